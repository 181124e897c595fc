package probe

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/takedownd/takedownd/pkg/simnet/hostersim"
)

// addrClasses lists an address per class the guard must refuse, and some
// it must let through. Only parsed here and by the dial control below;
// end-to-end tests dial loopback alone, so a broken guard could never send
// a packet off this machine.
var addrClasses = []struct {
	addr   string
	public bool
}{
	{"127.0.0.1", false}, {"127.255.255.254", false},
	{"10.0.0.1", false}, {"10.255.255.255", false},
	{"172.16.0.1", false}, {"172.31.255.255", false},
	{"192.168.0.1", false}, {"192.168.255.255", false},
	{"100.64.0.1", false}, {"100.127.255.255", false},
	{"169.254.169.254", false}, {"169.254.0.1", false},
	{"0.0.0.0", false}, {"0.1.2.3", false},
	{"224.0.0.1", false}, {"239.255.255.250", false},
	{"240.0.0.1", false}, {"255.255.255.255", false},
	{"192.0.0.8", false}, {"192.0.2.1", false}, {"198.18.0.1", false},
	{"198.51.100.1", false}, {"203.0.113.1", false},
	{"::1", false}, {"::", false},
	{"fc00::1", false}, {"fd12:3456::1", false},
	{"fe80::1", false}, {"fec0::1", false}, {"ff02::1", false},
	{"::ffff:127.0.0.1", false}, {"::ffff:10.0.0.1", false}, {"::ffff:169.254.169.254", false},
	{"::ffff:192.168.1.1", false}, {"::127.0.0.1", false},
	{"64:ff9b::7f00:1", false}, {"64:ff9b::a9fe:a9fe", false}, {"64:ff9b::a00:1", false},
	{"64:ff9b:1::1", false},
	{"2002:7f00:1::1", false}, {"2002:a00:1::1", false},
	{"2001:db8::1", false}, {"2001::1", false}, {"3fff::1", false},
	{"100::1", false},
	{"1.1.1.1", true}, {"8.8.8.8", true}, {"172.32.0.1", true}, {"100.128.0.1", true},
	{"169.255.0.1", true}, {"2606:4700::1111", true}, {"2a00:1450::1", true},
	{"::ffff:8.8.8.8", true}, {"64:ff9b::808:808", true}, {"2002:808:808::1", true},
}

func TestCheckAddr(t *testing.T) {
	t.Parallel()
	for _, c := range addrClasses {
		err := CheckAddr(netip.MustParseAddr(c.addr))
		if (err == nil) != c.public {
			t.Errorf("CheckAddr(%s) = %v, want public %v", c.addr, err, c.public)
		}
		var ae *AddressError
		if err != nil && !errors.As(err, &ae) {
			t.Errorf("CheckAddr(%s) error %T, want *AddressError", c.addr, err)
		}
	}
	if CheckAddr(netip.MustParseAddr("fe80::1%eth0")) == nil {
		t.Errorf("zoned address passed")
	}
	if CheckAddr(netip.Addr{}) == nil {
		t.Errorf("zero address passed")
	}
}

// TestDialControl proves the dial-time check sees the actual address the
// socket is about to connect to, for every class, without connecting.
func TestDialControl(t *testing.T) {
	t.Parallel()
	guarded := newDialer(fakeResolver{}, nil, addrPolicy{}, 0)
	open := newDialer(fakeResolver{}, nil, addrPolicy{allowAll: true}, 0)
	staging := newDialer(fakeResolver{}, nil, addrPolicy{allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, 0)
	for _, c := range addrClasses {
		address := net.JoinHostPort(c.addr, "80")
		if err := guarded.control(t.Context(), "tcp", address, nil); (err == nil) != c.public {
			t.Errorf("control(%s) = %v, want public %v", address, err, c.public)
		}
		if err := open.control(t.Context(), "tcp", address, nil); err != nil {
			t.Errorf("control(%s) with AllowPrivate = %v", address, err)
		}
		inStaging := c.addr == "10.0.0.1" || c.addr == "10.255.255.255" || c.addr == "::ffff:10.0.0.1"
		if err := staging.control(t.Context(), "tcp", address, nil); (err == nil) != (c.public || inStaging) {
			t.Errorf("control(%s) with 10/8 allowed = %v", address, err)
		}
	}
}

// TestProbeRefusesPrivate runs the guard end to end against a hoster that
// is really listening on loopback: every case would reach it (and count a
// hit) if the guard let it through.
func TestProbeRefusesPrivate(t *testing.T) {
	t.Parallel()
	loop4 := netip.MustParseAddr("127.0.0.1")
	onlyFirst := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	// PORT and ADDR stand for the case's own hoster.
	tests := []struct {
		name      string
		url       string
		resolver  fakeResolver
		connectTo map[string]string
		allow     []netip.Prefix
		redirect  string // where /start redirects, if the case has a first hop
	}{
		{"literal loopback", "http://127.0.0.1:PORT/m", nil, nil, nil, ""},
		{"literal ipv6 loopback", "http://[::1]:PORT/m", nil, nil, nil, ""},
		{"literal mapped loopback", "http://[::ffff:127.0.0.1]:PORT/m", nil, nil, nil, ""},
		{"literal mapped hex", "http://[::ffff:7f00:1]:PORT/m", nil, nil, nil, ""},
		{"dns rebinds to loopback", "http://public.example:PORT/m", fakeResolver{"public.example": {loop4}}, nil, nil, ""},
		{"dns rebinds to mapped loopback", "http://public.example:PORT/m", fakeResolver{"public.example": {netip.MustParseAddr("::ffff:127.0.0.1")}}, nil, nil, ""},
		{"dns rebinds to ipv6 loopback", "http://public.example:PORT/m", fakeResolver{"public.example": {netip.MustParseAddr("::1")}}, nil, nil, ""},
		{"connect_to name rebinding", "http://public.example/m", fakeResolver{"staging.example": {loop4}}, map[string]string{"public.example:80": "staging.example:PORT"}, nil, ""},
		{"redirect to other loopback literal", "http://127.0.0.1:PORT/start", nil, nil, onlyFirst, "http://127.0.0.2:PORT/m"},
		{"redirect to ipv6 loopback literal", "http://127.0.0.1:PORT/start", nil, nil, onlyFirst, "http://[::1]:PORT/m"},
		{"redirect to mapped loopback literal", "http://127.0.0.1:PORT/start", nil, nil, onlyFirst, "http://[::ffff:127.0.0.4]:PORT/m"},
		{"redirect to name rebinding", "http://127.0.0.1:PORT/start", fakeResolver{"cdn.example": {netip.MustParseAddr("127.0.0.3")}}, nil, onlyFirst, "http://cdn.example:PORT/m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A server per case, so hit counts are the case's own.
			srv := hostersim.Start(t)
			srv.SetDefault(hostersim.Content([]byte("must not be reached")))
			_, port, _ := net.SplitHostPort(srv.Addr())
			fill := strings.NewReplacer("PORT", port, "ADDR", srv.Addr()).Replace
			if tt.redirect != "" {
				srv.Set("/start", hostersim.Redirect(302, fill(tt.redirect)))
			}
			connectTo := map[string]string{}
			for k, v := range tt.connectTo {
				connectTo[k] = fill(v)
			}
			url := fill(tt.url)
			cfg := Config{ConnectTo: connectTo, AllowPrefixes: tt.allow}
			got := newTestProber(t, cfg, tt.resolver).Probe(t.Context(), Request{URL: url})
			checkResult(t, got, Inconclusive, ReasonAddressRefused)
			if h := srv.Hits("/m"); h != 0 {
				t.Errorf("guard let %d requests reach /m", h)
			}
			if tt.redirect != "" && srv.Hits("/start") != 1 {
				t.Errorf("first hop not taken: %d hits on /start", srv.Hits("/start"))
			}

			// The same probe with the guard off gets past it, so the
			// refusal above is the guard's doing.
			cfg.AllowPrivate = true
			got = newTestProber(t, cfg, tt.resolver).Probe(t.Context(), Request{URL: url})
			if got.Reason == ReasonAddressRefused {
				t.Errorf("with AllowPrivate still refused")
			}
		})
	}
}

// TestConnectToTargetsAsWritten shows that a connect_to target written as
// an address is reached on loopback without allow_private, whether the
// URL's host:port or an address it resolves to is mapped, while the guard
// still holds for everything a URL or DNS answer brings in.
func TestConnectToTargetsAsWritten(t *testing.T) {
	t.Parallel()
	// 192.0.2.7 is documentation space: were the map not applied, the
	// guard would refuse it rather than let a test dial it.
	doc := netip.MustParseAddr("192.0.2.7")
	tests := []struct {
		name      string
		url       string
		resolver  fakeResolver
		connectTo map[string]string
		reached   bool
	}{
		{"url host:port to loopback", "http://public.example/m", nil, map[string]string{"public.example:80": "ADDR"}, true},
		{"resolved address to loopback", "http://public.example/m", fakeResolver{"public.example": {doc}}, map[string]string{"192.0.2.7:80": "ADDR"}, true},
		{"other port of the address not mapped", "http://public.example:8080/m", fakeResolver{"public.example": {doc}}, map[string]string{"192.0.2.7:80": "ADDR"}, false},
		{"name target still guarded", "http://public.example/m", fakeResolver{"public.example": {doc}, "stage.example": {netip.MustParseAddr("127.0.0.1")}}, map[string]string{"192.0.2.7:80": "stage.example:PORT"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := hostersim.Start(t)
			srv.SetDefault(hostersim.Content([]byte("stand-in")))
			_, port, _ := net.SplitHostPort(srv.Addr())
			fill := strings.NewReplacer("PORT", port, "ADDR", srv.Addr()).Replace
			connectTo := map[string]string{}
			for k, v := range tt.connectTo {
				connectTo[k] = fill(v)
			}
			got := newTestProber(t, Config{ConnectTo: connectTo}, tt.resolver).Probe(t.Context(), Request{URL: tt.url})
			if tt.reached {
				checkResult(t, got, Online, ReasonOK)
				if tt.resolver != nil && got.RemoteAddr != "192.0.2.7:80" {
					t.Errorf("RemoteAddr = %s, want the address DNS gave, 192.0.2.7:80", got.RemoteAddr)
				}
			} else {
				checkResult(t, got, Inconclusive, ReasonAddressRefused)
			}
			if hits := srv.Hits("/m"); (hits > 0) != tt.reached {
				t.Errorf("stand-in hit %d times, want reached %v", hits, tt.reached)
			}
		})
	}
}
