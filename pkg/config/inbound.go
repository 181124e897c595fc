package config

// Inbound configures how replies and bounces reach takedownd.
type Inbound struct{}

func defaultInbound() Inbound { return Inbound{} }

func (x Inbound) validate(c *checker) {}
