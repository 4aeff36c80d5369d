package creds

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Sealed values are for the few secrets s3fed must keep rather than derive (a SAML config's
// encryption private keys, an OIDC client secret): AES-256-GCM under a key derived from the
// master key of one epoch, so a database dump without the master key file reveals nothing, and
// adding an epoch (master-key rotation) leaves older sealed values readable while new ones use
// the new epoch.
//
// Layout: version (1 byte, 1) | epoch (2 bytes, big endian) | nonce (12) | ciphertext | tag (16).
// The key is HKDF-SHA256(masterKey[epoch], salt none, info "s3fed seal v1" 0x00 purpose), so a
// value sealed for one purpose never opens as another; the GCM additional data is the version,
// the epoch and the caller's aad, which binds the value to where it is stored (org, config, key
// ID): copied elsewhere it does not open.
const (
	sealVersion  = 1
	sealHeader   = 1 + 2
	sealNonce    = 12
	sealOverhead = sealHeader + sealNonce + 16
)

// ErrSealed is wrapped by every failure to open a sealed value. The cause is deliberately not
// detailed beyond "unknown epoch" (which an operator can act on: the master key file lacks that
// epoch) and "does not open" (wrong key, purpose, aad or a damaged value).
var ErrSealed = errors.New("sealed value cannot be opened")

func (k *Keyring) sealAEAD(epoch uint16, purpose string) (cipher.AEAD, error) {
	if purpose == "" {
		return nil, errors.New("seal: empty purpose")
	}
	mk, ok := k.Keys[epoch]
	if !ok {
		return nil, fmt.Errorf("%w: master key epoch %d is not in the keyring", ErrSealed, epoch)
	}
	key, err := hkdf.Key(sha256.New, mk, nil, "s3fed seal v1\x00"+purpose, 32)
	if err != nil {
		return nil, fmt.Errorf("seal: derive key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return cipher.NewGCM(block)
}

func sealAD(header, aad []byte) []byte {
	return append(append(make([]byte, 0, len(header)+len(aad)), header...), aad...)
}

// Seal encrypts plaintext for purpose with the current epoch's master key; aad (not secret, not
// stored) must be given again to Open.
func (k *Keyring) Seal(purpose string, plaintext, aad []byte) ([]byte, error) {
	if err := k.Validate(); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := k.sealAEAD(k.Current, purpose)
	if err != nil {
		return nil, err
	}
	out := make([]byte, sealHeader+sealNonce, sealOverhead+len(plaintext))
	out[0] = sealVersion
	binary.BigEndian.PutUint16(out[1:3], k.Current)
	if _, err := rand.Read(out[sealHeader:]); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return aead.Seal(out, out[sealHeader:sealHeader+sealNonce], plaintext, sealAD(out[:sealHeader], aad)), nil
}

// Open decrypts a value made by Seal with the same purpose and aad, under whichever epoch sealed
// it. Any length of input is handled; every failure wraps ErrSealed.
func (k *Keyring) Open(purpose string, sealed, aad []byte) ([]byte, error) {
	if k == nil {
		return nil, fmt.Errorf("%w: no keyring", ErrSealed)
	}
	if len(sealed) < sealOverhead || sealed[0] != sealVersion {
		return nil, fmt.Errorf("%w: not a sealed value", ErrSealed)
	}
	epoch := binary.BigEndian.Uint16(sealed[1:3])
	aead, err := k.sealAEAD(epoch, purpose)
	if err != nil {
		return nil, err
	}
	plain, err := aead.Open(nil, sealed[sealHeader:sealHeader+sealNonce], sealed[sealHeader+sealNonce:], sealAD(sealed[:sealHeader], aad))
	if err != nil {
		return nil, fmt.Errorf("%w: wrong master key, purpose or context, or the value is damaged", ErrSealed)
	}
	return plain, nil
}

// SealedEpoch reports which master-key epoch sealed a value (so an operator can tell which
// values still need an old epoch before retiring it).
func SealedEpoch(sealed []byte) (uint16, bool) {
	if len(sealed) < sealOverhead || sealed[0] != sealVersion {
		return 0, false
	}
	return binary.BigEndian.Uint16(sealed[1:3]), true
}
