package subscription

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"
)

// BindingTokenTTL is how long a websocket binding token ($get-ws-binding-token) may wait
// to be used; it is used once.
const BindingTokenTTL = 60 * time.Second

// NewBindingToken makes a random, opaque websocket binding token (256 bits) and the hash
// under which it is stored: the database never holds the token itself.
func NewBindingToken() (token string, hash []byte) {
	b := make([]byte, 32)
	rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashBindingToken(token)
}

// HashBindingToken is the stored form of a binding token.
func HashBindingToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// WebsocketURL is the websocket channel's address for the FHIR base baseURL.
func WebsocketURL(baseURL string) string {
	return strings.Replace(strings.Replace(strings.TrimRight(baseURL, "/"), "https://", "wss://", 1), "http://", "ws://", 1) + "/websocket"
}
