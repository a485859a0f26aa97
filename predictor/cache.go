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
	opts  Options
	model *Model
}

// NewCache returns an empty cache.
func NewCache() *Cache { return &Cache{models: map[string]cacheEntry{}} }

// Model returns the model of workload for s, fitting it only when s ends at
// a different time, has a different length or step than the cached one's
// history, or opts changed: ModelWithin with maxAge 0.
func (c *Cache) Model(workload string, s Series, opts Options) (*Model, error) {
	return c.ModelWithin(workload, s, opts, 0)
}

// ModelWithin returns the model of workload for s, reusing the cached one
// when it was fitted with the same options and step on data that ends at
// most maxAge before s does (Model.Forecast handles the newer samples), and
// fitting a new one otherwise. With maxAge 0 it refits whenever the end of
// the data moves.
func (c *Cache) ModelWithin(workload string, s Series, opts Options, maxAge time.Duration) (*Model, error) {
	c.mu.Lock()
	e, ok := c.models[workload]
	c.mu.Unlock()
	if ok && e.model.step == s.Step && sameOptions(e.opts, opts) {
		age := s.End().Sub(e.end)
		if age >= 0 && age <= maxAge && (age > 0 || e.n == s.Len()) {
			return e.model, nil
		}
	}
	m, err := Fit(s, opts)
	if err != nil {
		return nil, fmt.Errorf("workload %s: %w", workload, err)
	}
	c.mu.Lock()
	c.models[workload] = cacheEntry{end: s.End(), n: s.Len(), opts: opts, model: m}
	c.fits++
	c.mu.Unlock()
	return m, nil
}

func sameOptions(a, b Options) bool {
	a, b = a.withDefaults(), b.withDefaults()
	if a.Lookahead != b.Lookahead || a.TargetUnder != b.TargetUnder || (a.BusinessHours == nil) != (b.BusinessHours == nil) {
		return false
	}
	if a.BusinessHours == nil {
		return true
	}
	x, y := *a.BusinessHours, *b.BusinessHours
	return x.Days == y.Days && x.Start == y.Start && x.End == y.End && locName(x.Location) == locName(y.Location)
}

func locName(l *time.Location) string {
	if l == nil {
		return "UTC"
	}
	return l.String()
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
