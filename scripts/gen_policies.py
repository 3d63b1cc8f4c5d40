#!/usr/bin/env python3
"""NetworkPolicy YAML for the `nplc import` benchmark (docs/performance.md,
"`nplc import`"): N policies in N/20 namespaces, one multi-document stream
on standard output. Deterministic.

    scripts/gen_policies.py 10000 > p10k.yaml
    NPLC_TIMINGS=1 target/release/nplc import p10k.yaml -o out
"""
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
nss = max(1, n // 20)
out = []
for i in range(n):
    out.append(f"""apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: pol-{i}
  namespace: ns{i % nss}
spec:
  podSelector:
    matchLabels:
      app: app{i % 37}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - podSelector:
        matchLabels:
          app: app{(i + 1) % 37}
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: ns{(i + 7) % nss}
      podSelector:
        matchLabels:
          app: app{(i + 3) % 37}
    ports:
    - port: {8000 + i % 50}
  egress:
  - to:
    - podSelector:
        matchLabels:
          app: app{(i + 2) % 37}
    ports:
    - port: 5432
  - to:
    - ipBlock:
        cidr: 10.{i % 200}.0.0/16
        except: [10.{i % 200}.1.0/24]
    ports:
    - port: 443
""")
sys.stdout.write("---\n".join(out))
