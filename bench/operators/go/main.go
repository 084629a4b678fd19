// The controller-runtime peer in the operator benchmarks: serves BenchObjects
// (bench.kopf.dev/v1, see bench/crd.yaml) in one namespace as unstructured
// objects, doing what bench/operators/BEHAVIOUR.md describes.
package main

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"time"

	"go.uber.org/zap/zapcore"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

const finalizer = "bench.kopf.dev/finalizer"

var gvk = schema.GroupVersionKind{Group: "bench.kopf.dev", Version: "v1", Kind: "BenchObject"}

type reconciler struct {
	client  client.Client
	variant string
}

func newObject() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u
}

// Every patch carries the resourceVersion it was computed from (optimistic lock): a reconcile
// that read a stale cache gets 409 instead of writing twice (e.g. the event of our own finalizer
// patch arrives before that of our status patch). A 409 means that a newer version exists whose
// watch event re-queues the object, so it ends the reconcile quietly; so does a 404.
func (r *reconciler) patch(ctx context.Context, obj, base client.Object, status bool) (done bool, err error) {
	p := client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})
	if status {
		err = r.client.Status().Patch(ctx, obj, p)
	} else {
		err = r.client.Patch(ctx, obj, p)
	}
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return true, nil
	}
	return err != nil, err
}

func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := newObject()
	if err := r.client.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	if obj.GetDeletionTimestamp() != nil {
		if r.variant == "delete" && controllerutil.ContainsFinalizer(obj, finalizer) {
			// The delete handler does nothing of its own: releasing the finalizer is all.
			base := obj.DeepCopy()
			controllerutil.RemoveFinalizer(obj, finalizer)
			_, err := r.patch(ctx, obj, base, false)
			return ctrl.Result{}, err
		}
		return ctrl.Result{}, nil
	}

	if r.variant == "delete" && !controllerutil.ContainsFinalizer(obj, finalizer) {
		base := obj.DeepCopy()
		controllerutil.AddFinalizer(obj, finalizer)
		if done, err := r.patch(ctx, obj, base, false); done {
			return ctrl.Result{}, err
		}
		// obj now holds the server's answer, resourceVersion included.
	}

	_, handled, _ := unstructured.NestedFieldNoCopy(obj.Object, "status", "message")
	// Variant update: status.observed follows spec.value (both int64 from the same decoder).
	value, hasValue, _ := unstructured.NestedFieldNoCopy(obj.Object, "spec", "value")
	observed, _, _ := unstructured.NestedFieldNoCopy(obj.Object, "status", "observed")
	outdated := r.variant == "update" && hasValue && !reflect.DeepEqual(value, observed)
	if handled && !outdated {
		return ctrl.Result{}, nil // handled already and up to date: no writes
	}
	startedAt := time.Now().UnixMilli()
	base := obj.DeepCopy()
	status, _, _ := unstructured.NestedMap(obj.Object, "status")
	if status == nil {
		status = map[string]any{}
	}
	if !handled {
		status["message"] = "handled " + obj.GetName()
		status["startedAt"] = startedAt
		if r.variant == "three" {
			status["h1"], status["h2"], status["h3"] = "done", "done", "done"
		}
	}
	if outdated {
		status["observed"] = value
	}
	obj.Object["status"] = status
	_, err := r.patch(ctx, obj, base, true) // one merge patch of the status subresource
	return ctrl.Result{}, err
}

// envInt reads a positive integer from the environment, or returns def when it is unset.
func envInt(name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		fail("%s must be a positive integer, got %q", name, s)
	}
	return n
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench-operator: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	variant := os.Getenv("BENCH_VARIANT")
	switch variant {
	case "create", "delete", "three", "update":
	default:
		fail("BENCH_VARIANT must be create, delete, three or update, got %q", variant)
	}
	namespace := os.Getenv("BENCH_NAMESPACE")
	if namespace == "" {
		fail("BENCH_NAMESPACE must name the namespace to serve")
	}
	workers := envInt("BENCH_WORKERS", 1) // 1 is controller-runtime's default
	qps, burst := os.Getenv("BENCH_QPS"), os.Getenv("BENCH_BURST")

	// The framework logs errors only (its own startup lines are INFO); we log one INFO line.
	ctrl.SetLogger(zap.New(zap.Level(zapcore.ErrorLevel)))
	log := zap.New(zap.Level(zapcore.InfoLevel)).WithName("bench-operator")

	// KUBECONFIG, else in-cluster, else ~/.kube/config. Client-side rate limits: ctrl.GetConfig
	// sets QPS to -1 (no client-side limiter at all: it relies on the server's API Priority and
	// Fairness) unless the kubeconfig sets one; Burst stays 0, which client-go reads as 10 but
	// which only matters when QPS > 0 (client-go's own default QPS is 5). BENCH_QPS/BENCH_BURST
	// override them; unset, these defaults are left untouched.
	cfg, err := ctrl.GetConfig()
	if err != nil {
		fail("no kubeconfig: %v", err)
	}
	if qps != "" {
		q, err := strconv.ParseFloat(qps, 32)
		if err != nil {
			fail("BENCH_QPS must be a number, got %q", qps)
		}
		cfg.QPS = float32(q)
	}
	if burst != "" {
		cfg.Burst = envInt("BENCH_BURST", 0)
	}

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		LeaderElection:         false,
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{namespace: {}}},
		// Unstructured reads come from the informer cache as typed ones do (not the API server).
		Client: client.Options{Cache: &client.CacheOptions{Unstructured: true}},
	})
	if err != nil {
		fail("cannot create the manager: %v", err)
	}
	err = ctrl.NewControllerManagedBy(mgr).
		Named("benchobject").
		For(newObject()).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(&reconciler{client: mgr.GetClient(), variant: variant})
	if err != nil {
		fail("cannot create the controller: %v", err)
	}

	log.Info("serving benchobjects.v1.bench.kopf.dev", "variant", variant, "namespace", namespace,
		"workers", workers, "qps", cfg.QPS, "burst", cfg.Burst)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		fmt.Fprintf(os.Stderr, "bench-operator: %v\n", err)
		os.Exit(1)
	}
}
