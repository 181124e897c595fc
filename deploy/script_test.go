package deploy

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestLocalClusterScript checks the script's syntax (bash -n), and lints
// it with shellcheck where the machine has it. Running it takes minutes
// and a load run; TestClusterFromTheseFiles starts the same files in
// process, and the script itself fails, naming the file, when a file it
// derives from no longer reads as it expects.
func TestLocalClusterScript(t *testing.T) {
	t.Parallel()
	const script = "local-cluster.sh"
	st, err := os.Stat(script)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o111 == 0 {
		t.Errorf("%s is not executable", script)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash on this machine")
	}
	if out, err := exec.CommandContext(t.Context(), bash, "-n", script).CombinedOutput(); err != nil {
		t.Errorf("bash -n %s: %v\n%s", script, err, out)
	}
	for _, f := range []string{"nats/takedown.conf", "takedownd-replica.yaml"} {
		b, err := os.ReadFile(script)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "deploy/"+f) {
			t.Errorf("%s does not start from deploy/%s", script, f)
		}
	}
	if sc, err := exec.LookPath("shellcheck"); err == nil {
		if out, err := exec.CommandContext(t.Context(), sc, script).CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", script, err, out)
		}
	}
}
