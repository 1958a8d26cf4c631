package templates

import (
	"context"
	"sync"
	"time"
)

// SendCacheTTL is how long a process keeps an approved template it read
// for a send (Cache): a template that stops being approved (rejected,
// paused, disabled, deleted) is refused by every process at most this long
// after the change; the process that made the change refuses it at once.
const SendCacheTTL = 5 * time.Second

// maxCached bounds a Cache: when full it starts again empty.
const maxCached = 4096

// Cache keeps the approved templates sends read, per process, for TTL: a
// burst of sends of one template reads it once. Only APPROVED templates are
// kept (a refusal is always read again, so a template approved is sendable
// at once), and a template changed or deleted through a store of this
// Cache is forgotten at once.
type Cache struct {
	TTL time.Duration
	Now func() time.Time

	mu sync.Mutex
	m  map[cacheKey]cached
}

type cacheKey struct{ tenantID, channelID, name, language string }

type cached struct {
	t       Template
	expires time.Time
}

// NewCache is an empty cache whose entries live ttl.
func NewCache(ttl time.Duration) *Cache { return &Cache{TTL: ttl, Now: time.Now} }

// On is s with FindTemplate answered from the cache when it can; its
// writes forget what they change.
func (c *Cache) On(s Store) Store { return &cachedStore{Store: s, c: c} }

func (c *Cache) get(k cacheKey) (Template, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return Template{}, false
	}
	if !c.Now().Before(e.expires) {
		delete(c.m, k)
		return Template{}, false
	}
	return e.t, true
}

func (c *Cache) put(k cacheKey, t Template) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCached {
		c.m = map[cacheKey]cached{}
	}
	c.m[k] = cached{t: t, expires: c.Now().Add(c.TTL)}
}

func (c *Cache) forget(t Template) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, cacheKey{t.TenantID, t.ChannelID, t.Name, t.Language})
}

type cachedStore struct {
	Store
	c *Cache
}

func (s *cachedStore) FindTemplate(ctx context.Context, tenantID, channelID, name, language string) (Template, error) {
	k := cacheKey{tenantID, channelID, name, language}
	if t, ok := s.c.get(k); ok {
		return t, nil
	}
	t, err := s.Store.FindTemplate(ctx, tenantID, channelID, name, language)
	if err == nil && t.Status == StatusApproved {
		s.c.put(k, t)
	}
	return t, err
}

func (s *cachedStore) CreateTemplate(ctx context.Context, t Template) error {
	s.c.forget(t)
	return s.Store.CreateTemplate(ctx, t)
}

func (s *cachedStore) PutTemplate(ctx context.Context, t Template) error {
	s.c.forget(t)
	err := s.Store.PutTemplate(ctx, t)
	s.c.forget(t)
	return err
}

func (s *cachedStore) DeleteTemplate(ctx context.Context, t Template) error {
	s.c.forget(t)
	err := s.Store.DeleteTemplate(ctx, t)
	s.c.forget(t)
	return err
}
