package store

import "context"

type actorKey struct{}

// WithActor returns a context that names who acts on whose behalf: the
// admin token's name ("admin:ops"), the user behind an access token
// ("user:vendor/alice"), a SCIM tenant ("scim:acme"), a directory source
// ("ldap:vendor/corp"). Code that writes on a caller's behalf passes
// ActorOr(ctx, its own name) to Update, so the audit log names the real
// actor rather than the package that did the work.
func WithActor(ctx context.Context, actor string) context.Context {
	if actor == "" {
		return ctx
	}
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorOr returns the actor set by WithActor, or def when there is none.
func ActorOr(ctx context.Context, def string) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return def
}
