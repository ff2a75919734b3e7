"""Deployment: model archives in SageMaker's layout, exports, and a real local endpoint.

- :mod:`fmnist_edu.deploy.inference` is the handler that goes into every archive as
  ``code/inference.py`` (standard library, numpy and torch only);
- :mod:`fmnist_edu.deploy.archive` writes, lists and safely unpacks ``model.tar.gz``;
- :mod:`fmnist_edu.deploy.export` writes TorchScript and ONNX and checks them against
  eager PyTorch;
- :mod:`fmnist_edu.deploy.server` serves an archive over HTTP with uvicorn and Starlette;
- :mod:`fmnist_edu.deploy.connections` bounds what clients can make it wait for: a
  deadline on each request's arrival, and a lingering read after refusing a large body;
- :mod:`fmnist_edu.deploy.local` runs that server as a child process, for demos and tests;
- :mod:`fmnist_edu.deploy.loadtest` measures its latency and throughput;
- :mod:`fmnist_edu.deploy.payloads` encodes images as request bodies, good and bad.

The submodules are imported on demand: the ONNX exporter and the web server are slow to
import and not needed elsewhere.
"""
