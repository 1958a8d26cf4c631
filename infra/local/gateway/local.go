package gateway

import (
	"time"

	"github.com/startmsg/chatbackend/shared/authorizer"
	"github.com/startmsg/chatbackend/shared/routes"
	"github.com/startmsg/chatbackend/shared/wiring"
)

// ForRoutes builds a gateway serving the whole route table in-process: every
// function's handler is wiring.APIHandler, exactly as its Lambda runs it.
func ForRoutes(d *wiring.Env, builders wiring.Builders, adminKey string, cacheTTL time.Duration) (*Gateway, error) {
	cfg, err := LocalConfig(d, builders, adminKey, cacheTTL)
	if err != nil {
		return nil, err
	}
	return New(cfg)
}

// LocalConfig is the configuration ForRoutes serves, for callers that
// change it first (tests wrap the handlers). It points d's authorizer-cache
// port at the gateway's cache before building the handlers, so the admin
// functions that revoke or rotate credentials flush it, as they flush API
// Gateway's in AWS.
func LocalConfig(d *wiring.Env, builders wiring.Builders, adminKey string, cacheTTL time.Duration) (Config, error) {
	cache := &AuthCache{}
	d.AuthCacheFlusher = cache
	handlers := map[string]APIHandler{}
	for _, r := range routes.Table {
		h, err := wiring.APIHandler(d, r.Function, builders)
		if err != nil {
			return Config{}, err
		}
		handlers[r.Function] = h
	}
	return Config{
		Routes:     routes.Table,
		Handlers:   handlers,
		Authorizer: authorizer.Handler(d.Tenancy()),
		AdminKey:   adminKey,
		CacheTTL:   cacheTTL,
		Cache:      cache,
		Prefixes:   []string{"/api"},
		Now:        d.Now,
	}, nil
}
