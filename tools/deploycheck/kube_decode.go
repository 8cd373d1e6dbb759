package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	sigsyaml "sigs.k8s.io/yaml"
)

// kustomizationFile is the kustomize entry point of a manifest directory.
const kustomizationFile = "kustomization.yaml"

// kubeObject is one decoded manifest document.
type kubeObject struct {
	File string // relative to the checked root
	Kind string
	Name string
	Obj  any // *corev1.ConfigMap, *appsv1.Deployment, ...
}

// ref names the object as kubectl does: Kind/name.
func (o kubeObject) ref() string { return o.Kind + "/" + o.Name }

// kubeSet is every object of a manifest directory, indexed for references.
type kubeSet struct {
	objects    []kubeObject
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
	claims     map[string]*corev1.PersistentVolumeClaim
	services   map[string]*corev1.Service
	accounts   map[string]*corev1.ServiceAccount
}

// newKubeObject returns an empty typed object for apiVersion and kind: the
// kinds these manifests may use, from the official k8s.io/api types.
func newKubeObject(apiVersion, kind string) (any, error) {
	switch apiVersion + " " + kind {
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1 Secret":
		return &corev1.Secret{}, nil
	case "v1 PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}, nil
	case "v1 Service":
		return &corev1.Service{}, nil
	case "v1 ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, nil
	case "apps/v1 StatefulSet":
		return &appsv1.StatefulSet{}, nil
	case "batch/v1 Job":
		return &batchv1.Job{}, nil
	}
	return nil, fmt.Errorf("apiVersion %q kind %q is not one deploycheck validates (ConfigMap, Secret, PersistentVolumeClaim, Service, ServiceAccount: v1; Deployment, StatefulSet: apps/v1; Job: batch/v1)", apiVersion, kind)
}

// decodeStrict converts one YAML document to JSON (rejecting duplicate
// keys) and decodes it into out as the API server does with strict field
// validation: case-sensitive field names, no unknown or duplicate fields,
// every value of its field's type.
func decodeStrict(doc []byte, out any) error {
	js, err := sigsyaml.YAMLToJSONStrict(doc)
	if err != nil {
		return fmt.Errorf("yaml: %w", err)
	}
	strict, err := sigsjson.UnmarshalStrict(js, out)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// splitYAML returns the non-empty documents of a multi-document YAML file.
func splitYAML(data []byte) ([][]byte, error) {
	r := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		js, err := sigsyaml.YAMLToJSON(doc)
		if err == nil && (len(bytes.TrimSpace(js)) == 0 || string(bytes.TrimSpace(js)) == "null") {
			continue // comments only
		}
		docs = append(docs, doc)
	}
}

// loadKube decodes every manifest of dir (rel is its name in messages): the
// files listed by kustomization.yaml, which must list every other .yaml
// file of the directory.
func loadKube(f *findings, dir, rel string) *kubeSet {
	set := &kubeSet{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		claims: map[string]*corev1.PersistentVolumeClaim{}, services: map[string]*corev1.Service{},
		accounts: map[string]*corev1.ServiceAccount{}}
	files := manifestFiles(f, dir, rel)
	seen := map[string]string{}
	for _, name := range files {
		file := filepath.ToSlash(filepath.Join(rel, name))
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			f.add(file, "", "%v", err)
			continue
		}
		docs, err := splitYAML(data)
		if err != nil {
			f.add(file, "", "yaml: %v", err)
			continue
		}
		for i, doc := range docs {
			obj, ok := decodeDocument(f, file, i, doc)
			if !ok {
				continue
			}
			if prev, dup := seen[obj.ref()]; dup {
				f.add(file, obj.ref(), "defined twice (also in %s)", prev)
				continue
			}
			seen[obj.ref()] = file
			set.add(obj)
		}
	}
	return set
}

// decodeDocument decodes document i of file into its typed object.
func decodeDocument(f *findings, file string, i int, doc []byte) (kubeObject, bool) {
	where := fmt.Sprintf("document %d", i+1)
	var tm metav1.TypeMeta
	if err := sigsyaml.Unmarshal(doc, &tm); err != nil {
		f.add(file, where, "yaml: %v", err)
		return kubeObject{}, false
	}
	obj, err := newKubeObject(tm.APIVersion, tm.Kind)
	if err != nil {
		f.add(file, where, "%v", err)
		return kubeObject{}, false
	}
	if err := decodeStrict(doc, obj); err != nil {
		f.add(file, where+" ("+tm.Kind+")", "%v", err)
		return kubeObject{}, false
	}
	meta := objectMeta(obj)
	o := kubeObject{File: file, Kind: tm.Kind, Name: meta.Name, Obj: obj}
	switch {
	case meta.Name == "":
		f.add(file, where+" ("+tm.Kind+")", "metadata.name is required")
		return kubeObject{}, false
	case len(validation.IsDNS1123Subdomain(meta.Name)) > 0:
		f.add(file, o.ref(), "metadata.name: %s", strings.Join(validation.IsDNS1123Subdomain(meta.Name), "; "))
	}
	if meta.Namespace != "" {
		f.add(file, o.ref(), "metadata.namespace is set: leave it to kubectl -n or kustomize so the manifests install anywhere")
	}
	checkLabels(scope{f: f, file: file, where: o.ref()}, "metadata.labels", meta.Labels)
	return o, true
}

// objectMeta returns the metadata of one of the types newKubeObject makes.
func objectMeta(obj any) *metav1.ObjectMeta {
	if m, ok := obj.(metav1.ObjectMetaAccessor); ok {
		if om, ok := m.GetObjectMeta().(*metav1.ObjectMeta); ok {
			return om
		}
	}
	return &metav1.ObjectMeta{}
}

// checkLabels reports keys and values the API server would reject.
func checkLabels(s scope, field string, labels map[string]string) {
	for _, k := range sortedKeys(labels) {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			s.errorf("%s key %q: %s", field, k, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(labels[k]); len(errs) > 0 {
			s.errorf("%s %q value %q: %s", field, k, labels[k], strings.Join(errs, "; "))
		}
	}
}

// add indexes obj.
func (s *kubeSet) add(obj kubeObject) {
	s.objects = append(s.objects, obj)
	switch o := obj.Obj.(type) {
	case *corev1.ConfigMap:
		s.configMaps[obj.Name] = o
	case *corev1.Secret:
		s.secrets[obj.Name] = o
	case *corev1.PersistentVolumeClaim:
		s.claims[obj.Name] = o
	case *corev1.Service:
		s.services[obj.Name] = o
	case *corev1.ServiceAccount:
		s.accounts[obj.Name] = o
	}
}

// kustomization is the subset of kustomize's Kustomization that these
// manifests use; anything else is reported as unknown.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
}

// manifestFiles returns the files listed by dir's kustomization.yaml,
// checking that they exist and that every .yaml file of dir is listed.
func manifestFiles(f *findings, dir, rel string) []string {
	file := filepath.ToSlash(filepath.Join(rel, kustomizationFile))
	onDisk, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(onDisk) == 0 {
		f.add(filepath.ToSlash(rel), "", "no manifests (*.yaml) found")
		return nil
	}
	data, err := os.ReadFile(filepath.Join(dir, kustomizationFile))
	if err != nil {
		f.add(file, "", "%v", err)
		return nil
	}
	var k kustomization
	if err := decodeStrict(data, &k); err != nil {
		f.add(file, "", "%v", err)
		return nil
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		f.add(file, "", "want apiVersion kustomize.config.k8s.io/v1beta1 and kind Kustomization, got %q %q", k.APIVersion, k.Kind)
	}
	var files []string
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join(dir, r)); err != nil || strings.Contains(r, "/") {
			f.add(file, "", "resources: %q is not a manifest file of this directory", r)
			continue
		}
		files = append(files, r)
	}
	for _, p := range onDisk {
		name := filepath.Base(p)
		if name != kustomizationFile && !slices.Contains(k.Resources, name) {
			f.add(file, "", "resources: %s is not listed, so kubectl apply -k skips it", name)
		}
	}
	return files
}

// sortedKeys returns m's keys in order, for stable messages.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
