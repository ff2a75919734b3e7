"""The book's own models in the reader's browser: what the live widgets need at build time.

The site stays static: at build time the Sphinx extension ``book/_ext/fmnist_web.py``
copies the pinned in-browser engine (ONNX Runtime Web, :mod:`~fmnist_edu.web.engine`)
and writes the widgets' assets (:mod:`~fmnist_edu.web.assets`): the chapters' own trained
CNN and MLP as ONNX files, checked against PyTorch (:mod:`~fmnist_edu.web.export`), and
the test images with PyTorch's predictions (:mod:`~fmnist_edu.web.predictions`).
"""
