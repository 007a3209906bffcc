package deps

import (
	_ "github.com/go-pdf/fpdf"
	_ "github.com/grafana/grafana-foundation-sdk/go/dashboard"
	_ "github.com/onsi/ginkgo/v2"
	_ "github.com/onsi/gomega"
	_ "github.com/pdfcpu/pdfcpu/pkg/api"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/common/expfmt"
	_ "github.com/testcontainers/testcontainers-go"
	_ "go.etcd.io/bbolt"
	_ "golang.org/x/image/font/gofont/goregular"
	_ "golang.org/x/time/rate"
)
