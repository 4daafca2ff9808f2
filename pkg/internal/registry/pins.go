package registry

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Pins records, per cache and image, when kindred last had the cache ask
// the upstream what the image's tag points at, and the digest it answered.
// A tag asked within Warm.TagTTL is served as the cache holds it. The file
// is shared by every kindred run on the machine: Save merges into what is
// there, and a lost update only means the upstream is asked once more.
type Pins struct {
	path string

	mu      sync.Mutex
	m       map[string]Pin
	changed map[string]Pin
}

// Pin is one image's record.
type Pin struct {
	Digest string    `json:"digest"`
	Asked  time.Time `json:"asked"`
}

// LoadPins reads the pins at path. A missing or unreadable file is no
// pins: the upstream is asked again, which is always safe.
func LoadPins(path string) *Pins {
	return &Pins{path: path, m: read(path), changed: map[string]Pin{}}
}

func read(path string) map[string]Pin {
	m := map[string]Pin{}
	if data, err := os.ReadFile(path); err == nil {
		if json.Unmarshal(data, &m) != nil {
			return map[string]Pin{}
		}
	}
	return m
}

func pinKey(cache, image string) string { return cache + " " + image }

// fresh reports whether image's tag was asked of cache's upstream within
// ttl. A nil Pins trusts nothing.
func (p *Pins) fresh(cache, image string, ttl time.Duration) bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pin, ok := p.m[pinKey(cache, image)]
	age := time.Since(pin.Asked)
	return ok && age >= 0 && age < ttl
}

// set records that cache's upstream was just asked about image.
func (p *Pins) set(cache, image, digest string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pin := Pin{Digest: digest, Asked: time.Now().UTC()}
	p.m[pinKey(cache, image)] = pin
	p.changed[pinKey(cache, image)] = pin
}

// Save writes what set recorded into the file, over what other runs wrote
// there since it was read.
func (p *Pins) Save() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.changed) == 0 {
		return nil
	}
	m := read(p.path)
	for k, v := range p.changed {
		m[k] = v
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p.path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p.path), ".pins-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), p.path); err != nil {
		return err
	}
	p.changed = map[string]Pin{}
	return nil
}

// ForgetPins removes the pins file, as when the caches are removed.
func ForgetPins(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
