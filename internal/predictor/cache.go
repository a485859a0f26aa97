package predictor

import (
	"fmt"
	"sync"
	"time"
)

// Cache keeps the latest fitted model of each workload, keyed by the end of
// the data it was fitted on, so that an unchanged history is not refit. It
// is safe for concurrent use.
type Cache struct {
	mu     sync.Mutex
	models map[string]cacheEntry
	fits   int
}

type cacheEntry struct {
	end   time.Time
	n     int
	model *Model
}

// NewCache returns an empty cache.
func NewCache() *Cache { return &Cache{models: map[string]cacheEntry{}} }

// Model returns the model of workload for s, fitting it only when s ends at
// a different time or has a different length than the cached one's history.
func (c *Cache) Model(workload string, s Series, opts Options) (*Model, error) {
	c.mu.Lock()
	e, ok := c.models[workload]
	c.mu.Unlock()
	if ok && e.end.Equal(s.End()) && e.n == s.Len() {
		return e.model, nil
	}
	m, err := Fit(s, opts)
	if err != nil {
		return nil, fmt.Errorf("workload %s: %w", workload, err)
	}
	c.mu.Lock()
	c.models[workload] = cacheEntry{end: s.End(), n: s.Len(), model: m}
	c.fits++
	c.mu.Unlock()
	return m, nil
}

// Fits returns how many models the cache has fitted.
func (c *Cache) Fits() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fits
}

// Forget drops a workload's model.
func (c *Cache) Forget(workload string) {
	c.mu.Lock()
	delete(c.models, workload)
	c.mu.Unlock()
}
