package dns

import (
	"container/list"
	"sync"
	"time"
)

// cache is a size-bounded LRU of resolution results that expire by their
// TTL on the injected clock. Expired entries are dropped when met, and the
// least recently used one when the cache is full, so memory stays bounded
// however many distinct hosts arrive.
type cache struct {
	mu    sync.Mutex
	max   int
	ll    *list.List // front = most recently used
	items map[string]*list.Element
}

type cacheEntry struct {
	key     string
	answer  Answer
	err     error // a permanent error (negative answer), or nil
	expires time.Time
}

func newCache(max int) *cache {
	return &cache{max: max, ll: list.New(), items: map[string]*list.Element{}}
}

// get returns the live entry for key at time now.
func (c *cache) get(key string, now time.Time) (cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return cacheEntry{}, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.ll.Remove(el)
		delete(c.items, key)
		return cacheEntry{}, false
	}
	c.ll.MoveToFront(el)
	return *e, true
}

func (c *cache) put(e cacheEntry) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[e.key]; ok {
		*el.Value.(*cacheEntry) = e
		c.ll.MoveToFront(el)
		return
	}
	c.items[e.key] = c.ll.PushFront(&e)
	for c.ll.Len() > c.max {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.items, old.Value.(*cacheEntry).key)
	}
}

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
