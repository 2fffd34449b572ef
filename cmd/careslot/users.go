package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/careslot/careslot/app"
	"github.com/careslot/careslot/smart-auth/hydra"
	"github.com/careslot/careslot/smart-auth/signin"
	"github.com/careslot/careslot/storage"
	"github.com/google/uuid"
	hydraclient "github.com/ory/hydra-client-go/v2"
)

// userCommand answers `careslot user add|passwd|list`. Passwords are read from stdin
// (one line), never from the command line, where other users of the machine see them.
func userCommand(ctx context.Context, cfg config, args []string, stdin io.Reader, stdout io.Writer) error {
	usage := errors.New("usage: careslot user add -role patient|practitioner|admin [-fhir-user Patient/<id>|Practitioner/<id>] <username> < password\n" +
		"       careslot user passwd <username> < password\n       careslot user list")
	if len(args) == 0 {
		return usage
	}
	if err := storage.EnsureDatabase(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	store, err := storage.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer store.Close()
	switch args[0] {
	case "add":
		flags := flag.NewFlagSet("user add", flag.ContinueOnError)
		role := flags.String("role", "", "patient, practitioner or admin")
		fhirUser := flags.String("fhir-user", "", "the user's resource: Patient/<id> (patient) or Practitioner/<id> (practitioner, optional for admin)")
		if err := flags.Parse(args[1:]); err != nil || flags.NArg() != 1 {
			return usage
		}
		password, err := readPassword(stdin)
		if err != nil {
			return err
		}
		u := storage.User{ID: uuid.NewString(), Username: flags.Arg(0), Role: *role, FHIRUser: *fhirUser}
		if err := checkUser(ctx, store, u); err != nil {
			return err
		}
		if u.PasswordHash, err = signin.HashPassword(password); err != nil {
			return err
		}
		if err := store.CreateUser(ctx, u); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added %s (%s)\n", u.Username, u.Role)
		return nil
	case "passwd":
		if len(args) != 2 {
			return usage
		}
		password, err := readPassword(stdin)
		if err != nil {
			return err
		}
		hash, err := signin.HashPassword(password)
		if err != nil {
			return err
		}
		if err := store.SetPasswordHash(ctx, args[1], hash); err != nil {
			return fmt.Errorf("%s: %w", args[1], err)
		}
		fmt.Fprintf(stdout, "password of %s changed\n", args[1])
		return nil
	case "list":
		users, err := store.Users(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USERNAME\tROLE\tFHIR USER\tID")
		for _, u := range users {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Username, u.Role, u.FHIRUser, u.ID)
		}
		return tw.Flush()
	}
	return usage
}

// readPassword reads one line; it must be at least 10 characters long.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	password := strings.TrimRight(line, "\r\n")
	if len(password) < 10 {
		return "", errors.New("the password (one line on standard input) must have at least 10 characters")
	}
	return password, nil
}

// checkUser refuses a role without its resource, or a resource that does not exist.
func checkUser(ctx context.Context, store *storage.Store, u storage.User) error {
	want := map[string]string{"patient": "Patient/", "practitioner": "Practitioner/", "admin": "Practitioner/"}[u.Role]
	if want == "" {
		return fmt.Errorf("-role is %q; want patient, practitioner or admin", u.Role)
	}
	if u.FHIRUser == "" {
		if u.Role == "admin" {
			return nil
		}
		return fmt.Errorf("a %s needs -fhir-user %s<id>", u.Role, want)
	}
	if !strings.HasPrefix(u.FHIRUser, want) {
		return fmt.Errorf("-fhir-user of a %s must be %s<id>", u.Role, want)
	}
	typ, id, _ := strings.Cut(u.FHIRUser, "/")
	if _, err := store.Read(ctx, typ, id); err != nil {
		return fmt.Errorf("-fhir-user %s: %w", u.FHIRUser, err)
	}
	return nil
}

// The demo users of the demo clinic (cmd/careslot/democlinic.go), linked to its resources.
var demoUserList = []storage.User{
	{ID: "demo-user-admin", Username: "admin", Role: "admin"},
	{ID: "demo-user-dr-berg", Username: "dr.berg", Role: "practitioner", FHIRUser: "Practitioner/demo-dr-1"},
	{ID: "demo-user-dr-okafor", Username: "dr.okafor", Role: "practitioner", FHIRUser: "Practitioner/demo-dr-2"},
	{ID: "demo-user-alice", Username: "alice.schmidt", Role: "patient", FHIRUser: "Patient/demo-patient-1"},
	{ID: "demo-user-bruno", Username: "bruno.jensen", Role: "patient", FHIRUser: "Patient/demo-patient-2"},
}

// demoUsers gives each demo user a password (password, or a new random one) and prints
// them: for `make run` on a development machine only, never in production.
func demoUsers(ctx context.Context, a *app.App, password string, out io.Writer) error {
	fmt.Fprintln(out, "demo users (CARESLOT_DEMO_USERS=true; sign in at the login page of any SMART app):")
	for _, u := range demoUserList {
		pw := password
		if pw == "" {
			b := make([]byte, 12)
			rand.Read(b)
			pw = base64.RawURLEncoding.EncodeToString(b)
		}
		hash, err := signin.HashPassword(pw)
		if err != nil {
			return err
		}
		u.PasswordHash = hash
		err = a.Store.CreateUser(ctx, u)
		if errors.Is(err, storage.ErrUserExists) {
			err = a.Store.SetPasswordHash(ctx, u.Username, hash)
		}
		if err != nil {
			return fmt.Errorf("demo user %s: %w", u.Username, err)
		}
		fmt.Fprintf(out, "  %-14s %-13s %-24s password %s\n", u.Username, u.Role, u.FHIRUser, pw)
	}
	return nil
}

// devClientID is the confidential backend client that make run registers.
const devClientID = "careslot-dev"

// registerDevClient registers careslot-dev (client_credentials, system/*.*, secret sent
// with HTTP Basic) with Hydra, waiting up to a minute for Hydra to start.
func registerDevClient(ctx context.Context, cfg config, log *slog.Logger) error {
	admin, err := hydra.NewAdmin(cfg.Auth.HydraAdminURL)
	if err != nil {
		return err
	}
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := admin.Ready(wait); err != nil {
		return fmt.Errorf("register %s: %w", devClientID, err)
	}
	client := hydra.BackendClient(devClientID, cfg.DevClientSecret, nil, "", cfg.BaseURL, "system/*.*", "system/*.cruds", "system/*.rs")
	if err := admin.EnsureClient(ctx, client); err != nil {
		return fmt.Errorf("register %s: %w", devClientID, err)
	}
	log.Info("registered the backend client", "client_id", devClientID, "scope", client.GetScope())
	return nil
}

// registerPublicClient registers a public client of careslot's own (authorization code
// with PKCE, no secret): Swagger UI's Authorize (openapi.SwaggerClient) or the booking
// UI (demoui.Client), redirected back to this careslot; waiting up to a minute for Hydra.
func registerPublicClient(ctx context.Context, cfg config, log *slog.Logger, what string, client hydraclient.OAuth2Client) error {
	admin, err := hydra.NewAdmin(cfg.Auth.HydraAdminURL)
	if err != nil {
		return err
	}
	id := client.GetClientId()
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := admin.Ready(wait); err != nil {
		return fmt.Errorf("register %s: %w", id, err)
	}
	if err := admin.EnsureClient(ctx, client); err != nil {
		return fmt.Errorf("register %s: %w", id, err)
	}
	log.Info("registered the "+what+" client", "client_id", id, "redirect_uris", client.RedirectUris)
	return nil
}
