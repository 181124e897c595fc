package config

// Notify configures notices: SMTP relay or outbox, batching windows, templates and forwarding.
type Notify struct{}

func defaultNotify() Notify { return Notify{} }

func (x Notify) validate(c *checker) {}
