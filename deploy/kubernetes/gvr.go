package kubernetes

import "k8s.io/apimachinery/pkg/runtime/schema"

// The GantryService resource.
const (
	Group    = "gantry.dev"
	Version  = "v1alpha1"
	Resource = "gantryservices"
)

// GantryServices is the GantryService resource's group, version and resource.
var GantryServices = schema.GroupVersionResource{Group: Group, Version: Version, Resource: Resource}
