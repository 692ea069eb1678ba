package plan

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrSignature means a plan file's signature is missing or does not verify
// with the key given to [Load]: the plan was changed after it was saved, or
// saved with another key, or without one. Use [errors.Is].
var ErrSignature = errors.New("plan signature does not verify")

// MinKeyLen is the shortest signing key [Save] and [Load] accept, in bytes.
const MinKeyLen = 16

const signaturePrefix = "hmac-sha256:"

// SaveOptions configure [Save]. A nil *SaveOptions means the defaults.
type SaveOptions struct {
	// Key, if not empty, signs the plan: an HMAC-SHA256 of the plan's
	// canonical encoding is stored with it, so that [Load] with the same
	// key refuses a plan edited afterwards, even one whose checksums were
	// recomputed. At least [MinKeyLen] bytes. Default: not signed.
	Key []byte
}

// LoadOptions configure [Load]. A nil *LoadOptions means the defaults.
type LoadOptions struct {
	// Key, if not empty, is the key the plan must have been signed with
	// ([SaveOptions].Key); a plan without a signature, or with one made
	// from other bytes or another key, is refused ([ErrSignature]).
	// Default: the signature, if any, is not checked.
	Key []byte
}

// Save writes p to w as indented JSON (format waymark.plan/v3) with the SQL
// readable (no HTML escaping), signed if opts.Key is set: the file to keep
// between a CI job's plan step and its apply step.
func Save(w io.Writer, p *Plan, opts *SaveOptions) error {
	wp := p.wire()
	if opts != nil && len(opts.Key) > 0 {
		sig, err := sign(wp, opts.Key)
		if err != nil {
			return err
		}
		wp.Signature = sig
	}
	data, err := encode(wp, "  ")
	if err != nil {
		return err
	}
	if _, err := w.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("plan: save: %w", err)
	}
	return nil
}

// Load reads a plan written by [Save] (or by MarshalJSON, in format v1,
// v2 or v3), with the checks of [Plan.UnmarshalJSON], and, if opts.Key is set,
// verifies its signature. A file with anything but white space after the
// plan's JSON is refused ([ErrTrailingData]), signed or not: a signature
// covers the plan, not what follows it. Load cannot know which versions
// an unsigned plan's author deleted between two steps of an up plan:
// check a loaded plan against the files with [Plan.CheckPath] (execute.Run
// does, given its Files).
func Load(r io.Reader, opts *LoadOptions) (*Plan, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("plan: load: %w", err)
	}
	w, err := decode(data)
	if err != nil {
		return nil, err
	}
	if opts != nil && len(opts.Key) > 0 {
		if err := verify(w, opts.Key); err != nil {
			return nil, err
		}
	}
	return w.plan()
}

// sign returns the signature of w (whose own Signature is ignored).
func sign(w jsonPlan, key []byte) (string, error) {
	if len(key) < MinKeyLen {
		return "", fmt.Errorf("plan: signing key of %d bytes: want at least %d", len(key), MinKeyLen)
	}
	w.Signature = ""
	data, err := encode(w, "")
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(data)
	return signaturePrefix + hex.EncodeToString(mac.Sum(nil)), nil
}

// verify checks w's signature against key.
func verify(w jsonPlan, key []byte) error {
	if w.Signature == "" {
		return fmt.Errorf("plan: %w: the plan is not signed (format %s), and a key was given", ErrSignature, w.Format)
	}
	if !strings.HasPrefix(w.Signature, signaturePrefix) {
		return fmt.Errorf("plan: %w: unknown signature kind, want %q", ErrSignature, signaturePrefix)
	}
	want, err := sign(w, key)
	if err != nil {
		return err
	}
	if !hmac.Equal([]byte(want), []byte(w.Signature)) {
		return fmt.Errorf("plan: %w: the plan was changed after it was signed, or signed with another key", ErrSignature)
	}
	return nil
}
