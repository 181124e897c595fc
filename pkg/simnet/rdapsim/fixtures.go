package rdapsim

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// repoFixtures are real answers the shared directory lacks (see
// fixtures/SOURCES.md), in the same layout; they are served beside the
// shared ones.
//
//go:embed fixtures/*/*.json
var repoFixtures embed.FS

// RepoFixtures returns the captured answers kept in this repository, laid
// out as the shared directory is ("norid/domain-norway.no.json"), for
// tests that check every fixture.
func RepoFixtures() fs.FS {
	// fs.Sub fails only for an invalid path, and "fixtures" is valid.
	sub, _ := fs.Sub(repoFixtures, "fixtures")
	return sub
}

// FixturesEnv names the environment variable that points at the RDAP fixture
// directory when it does not sit in a shared/ directory above the working
// directory (for example in a CI layout we did not foresee).
const FixturesEnv = "TAKEDOWND_FIXTURES"

// FindFixtures returns the directory holding the captured RDAP responses.
// It honours FixturesEnv first, then walks up from the working directory
// looking for shared/fixtures/rdap, which covers both the development layout
// (/work/main beside /work/shared) and CI (the clone with shared/ beside it).
func FindFixtures() (string, error) {
	if dir := os.Getenv(FixturesEnv); dir != "" {
		for _, cand := range []string{filepath.Join(dir, "rdap"), dir} {
			if isFixtureDir(cand) {
				return cand, nil
			}
		}
		return "", fmt.Errorf("find rdap fixtures: %s=%q holds no iana-bootstrap directory", FixturesEnv, dir)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find rdap fixtures: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		cand := filepath.Join(dir, "shared", "fixtures", "rdap")
		if isFixtureDir(cand) {
			return cand, nil
		}
		if filepath.Dir(dir) == dir {
			return "", errors.New("find rdap fixtures: no shared/fixtures/rdap above the working directory; set " + FixturesEnv)
		}
	}
}

func isFixtureDir(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, "iana-bootstrap"))
	return err == nil && st.IsDir()
}

// fixtureFile is one captured response and the RDAP path it answers.
type fixtureFile struct {
	registry string // directory name, e.g. "arin"
	kind     string // ip, domain, entity, autnum, error
	key      string // path key after the kind, lower case
	body     []byte
}

// loadFixtures reads every captured response below dir and those kept in
// the repository, skipping the bootstrap files and the synthetic RFC
// example (it has no live server).
func loadFixtures(dir string) ([]fixtureFile, error) {
	shared, err := readFixtures(os.DirFS(dir))
	if err != nil {
		return nil, err
	}
	own, err := readFixtures(RepoFixtures())
	if err != nil {
		return nil, err
	}
	return append(shared, own...), nil
}

func readFixtures(fsys fs.FS) ([]fixtureFile, error) {
	matches, err := fs.Glob(fsys, "*/*.json")
	if err != nil {
		return nil, fmt.Errorf("list rdap fixtures: %w", err)
	}
	var out []fixtureFile
	for _, name := range matches {
		registry := path.Dir(name)
		if registry == "iana-bootstrap" || registry == "synthetic" {
			continue
		}
		kind, key, ok := fixtureKey(path.Base(name))
		if !ok {
			continue
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read rdap fixture: %w", err)
		}
		out = append(out, fixtureFile{registry: registry, kind: kind, key: key, body: body})
	}
	return out, nil
}

// fixtureKey turns a fixture file name into the object it answers:
// "ip6-2a00-2381-ffff--1.legacy2015.json" → ("ip", "2a00:2381:ffff::1").
func fixtureKey(name string) (kind, key string, ok bool) {
	name = strings.TrimSuffix(name, ".json")
	name = strings.TrimSuffix(name, ".legacy2015")
	kind, key, ok = strings.Cut(name, "-")
	if !ok {
		return "", "", false
	}
	if kind == "ip6" {
		kind, key = "ip", strings.ReplaceAll(key, "-", ":")
	}
	return kind, strings.ToLower(key), true
}
