"""Mapping layers onto crossbars: layers to matrices (reshaping), matrices to crossbars, banks as allocators.

What ``zfdr``/``deform``/``normal-reshape``, ``replicate``, ``place-3d``/``place-htree`` and the lowering
share lives here, so that no pass imports another and nothing below imports ``passes``.
"""
