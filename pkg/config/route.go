package config

// Route configures the routing policy: hotline country, partner hotlines and the review queue.
type Route struct{}

func defaultRoute() Route { return Route{} }

func (x Route) validate(c *checker) {}
