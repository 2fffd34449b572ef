package signin

import (
	"github.com/alexedwards/argon2id"
)

// passwordParams are argon2id's parameters: RFC 9106's second recommended option
// (64 MiB, 3 passes), with 2 lanes for a 2-core server.
var passwordParams = &argon2id.Params{Memory: 64 * 1024, Iterations: 3, Parallelism: 2, SaltLength: 16, KeyLength: 32}

// HashPassword returns the encoded argon2id hash of password, with a random salt.
func HashPassword(password string) (string, error) {
	return argon2id.CreateHash(password, passwordParams)
}

// dummyHash is checked against when a username is unknown, so that a wrong username takes
// as long as a wrong password and does not tell which usernames exist.
var dummyHash, _ = HashPassword("careslot: no such user")

// checkPassword reports whether password matches hash; a malformed hash never matches.
func checkPassword(password, hash string) bool {
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	return err == nil && ok
}
