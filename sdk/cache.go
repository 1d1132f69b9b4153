package sdk

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// readCache reads the environment document kept in a cache file.
func readCache(path string) (*document, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d document
	if err := decode(b, &d); err != nil {
		return nil, fmt.Errorf("not an environment document: %w", err)
	}
	if err := d.check(); err != nil {
		return nil, fmt.Errorf("not an environment document: %w", err)
	}
	return &d, nil
}

// writeFileAtomic replaces path with data so that a reader, or a crash,
// sees the old file or the new one and never a mix: it writes a temporary
// file in the same directory, syncs it and renames it over path. The file
// is readable by its owner only, as it may hold customer lists.
func writeFileAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// cacheLoop writes the cache file after changes. Changes that arrive
// while it writes coalesce into the next write.
func (c *Client) cacheLoop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.cacheKick:
		}
		_ = c.writeCache()
	}
}

// writeCache writes the current snapshot to the cache file unless it is
// there already.
func (c *Client) writeCache() error {
	c.cacheMu.Lock()
	defer c.cacheMu.Unlock()
	s := c.snap.Load()
	if s == nil || s == c.written || s.fromCache {
		return nil
	}
	data, err := json.Marshal(s.document())
	if err == nil {
		err = writeFileAtomic(c.cfg.CacheFile, data)
	}
	if err != nil {
		c.log.Warn("ramp: cannot write the cache file", "file", c.cfg.CacheFile, "err", err)
		return fmt.Errorf("sdk: write cache file: %w", err)
	}
	c.written = s
	return nil
}
