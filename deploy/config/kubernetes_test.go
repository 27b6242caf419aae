package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rayService is a RayService manifest around a Ray Serve config.
func rayService(serveConfig string) string {
	return "apiVersion: ray.io/v1\nkind: RayService\nmetadata:\n  name: sd\nspec:\n  serveConfigV2: |\n" +
		indent(serveConfig, "    ") + "  rayClusterConfig:\n    rayVersion: 2.9.0\n"
}

func indent(s, by string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != "" {
			lines[i] = by + l
		}
	}
	return strings.Join(lines, "")
}

const goodServeConfig = `applications:
  - name: stable_diffusion
    deployments:
      - name: painter
        num_replicas: 2
        replica: {command: [./bin/painter]}
`

func TestFromRayService(t *testing.T) {
	c, err := FromRayService([]byte(rayService(goodServeConfig)))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Specs(self)
	if len(s) != 1 || s[0].Application != "stable_diffusion" || s[0].NumReplicas != 2 {
		t.Errorf("specs = %+v", s)
	}
	// The same as the config given on its own.
	if want := mustParse(t, goodServeConfig).Specs(self); s[0].CodeVersion != want[0].CodeVersion {
		t.Errorf("code version %s from the RayService, %s from the config", s[0].CodeVersion, want[0].CodeVersion)
	}
}

func TestLoadRayServiceResolvesAgainstTheManifestsFolder(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ray-service.yaml")
	if err := os.WriteFile(path, []byte(rayService(goodServeConfig)), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadRayService(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Specs(self)[0].Command[0]; got != filepath.Join(dir, "bin/painter") {
		t.Errorf("command = %q, want it in the manifest's folder %s", got, dir)
	}
}

// The GKE tutorial's RayService, as written: its import path is accepted,
// but its remote working_dir and pip list are not, each named below
// spec.serveConfigV2.
func TestLoadRayServiceOfTheTutorial(t *testing.T) {
	_, err := LoadRayService("testdata/rayservice.bad.yaml")
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("want a *Error, got %T: %v", err, err)
	}
	for _, want := range []string{
		"spec.serveConfigV2.applications[0].runtime_env.pip: not supported: Gantry runs the application with the configured Python",
		"spec.serveConfigV2.applications[0].runtime_env.working_dir: remote URIs are not supported",
	} {
		if !anyProblemContains(ce, want) {
			t.Errorf("missing %q; got:\n%v", want, err)
		}
	}
	if len(ce.Problems) != 2 {
		t.Errorf("got %d problems, want 2:\n%v", len(ce.Problems), err)
	}
}

func TestFromRayServiceProblems(t *testing.T) {
	tests := []struct {
		name, manifest, want string
	}{
		{"an unknown field in the config", rayService("applications:\n  - name: a\n    deployments:\n      - name: d\n        colour: blue\n        replica: {command: [x]}\n"),
			`spec.serveConfigV2.applications[0].deployments[0].colour: unknown field`},
		{"a syntax error in the config names its line and the file's",
			rayService("applications:\n  - name: a\n   deployments: []\n"),
			`spec.serveConfigV2: not valid YAML or JSON: line 3 of spec.serveConfigV2 (line 9 of the file): did not find expected '-' indicator`},
		{"a syntax error in the manifest",
			"apiVersion: ray.io/v1\nkind: RayService\nspec:\n  serveConfigV2: \"x\n",
			`not valid YAML or JSON: at the end of the document: found unexpected end of stream`},
		{"not a RayService", "apiVersion: apps/v1\nkind: Deployment\nspec: {}\n",
			`kind: expected RayService, got string "Deployment"`},
		{"another API group", "apiVersion: example.com/v1\nkind: RayService\nspec: {}\n",
			`apiVersion: expected ray.io/v1 (KubeRay's RayService), got string "example.com/v1"`},
		{"no serveConfigV2", "apiVersion: ray.io/v1\nkind: RayService\nspec: {rayClusterConfig: {}}\n",
			`spec.serveConfigV2: is missing or empty`},
		{"the old serveConfig", "apiVersion: ray.io/v1alpha1\nkind: RayService\nspec: {serveConfig: {importPath: a:b}}\n",
			`spec.serveConfig: is KubeRay's old single-application format`},
		{"serveConfigV2 as an object", "apiVersion: ray.io/v1\nkind: RayService\nspec: {serveConfigV2: {applications: []}}\n",
			`spec.serveConfigV2: expected the Ray Serve config as a string (serveConfigV2: | and the config indented below it), got an object`},
		{"two RayServices", rayService(goodServeConfig) + "---\n" + rayService(goodServeConfig),
			`the file has 2 RayService documents`},
		{"no RayService among documents", "apiVersion: v1\nkind: Service\n---\napiVersion: v1\nkind: ConfigMap\n",
			`none of the file's 2 documents is a RayService`},
		{"a syntax error in a later document names the file's line",
			"apiVersion: v1\nkind: Service\n---\napiVersion: ray.io/v1\nkind: RayService\n  spec: {}\n",
			`not valid YAML or JSON: line 6: mapping values are not allowed in this context`},
		{"a Gantry config given as a RayService", goodServeConfig,
			`kind: is missing: --from-rayservice reads KubeRay RayService manifests`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromRayService([]byte(tt.manifest))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want a *Error, got %T: %v", err, err)
			}
			if !anyProblemContains(ce, tt.want) {
				t.Errorf("missing %q; got:\n%v", tt.want, err)
			}
		})
	}
}

// A Kubernetes manifest given as a config is named as one, in one problem,
// rather than as four unknown fields.
func TestParseRecognisesKubernetesResources(t *testing.T) {
	tests := []struct{ doc, want string }{
		{rayService(goodServeConfig), `"gantry deploy --from-rayservice FILE"`},
		{"apiVersion: gantry.dev/v1alpha1\nkind: GantryService\nmetadata: {name: x}\nspec: {serveConfig: {}}\n", "apply it with kubectl"},
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {}\n", "this is a Kubernetes Deployment resource (apiVersion apps/v1), not a Gantry config"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.doc))
		var ce *Error
		if !errors.As(err, &ce) || len(ce.Problems) != 1 || !strings.Contains(ce.Problems[0].Message, tt.want) {
			t.Errorf("Parse(%.40q…) = %v; want one problem saying %q", tt.doc, err, tt.want)
		}
	}
}
