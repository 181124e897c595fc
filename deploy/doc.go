// Package deploy holds what an operator runs takedownd with: the NATS
// cluster's configuration (nats/), a replica's configuration, the compose
// file, the container file, the systemd units and local-cluster.sh, which
// rehearses the whole deployment on one machine. It has no Go code of its
// own; its tests keep those files honest: they parse, they name only
// files that exist, and they agree with each other and with the daemon.
package deploy
