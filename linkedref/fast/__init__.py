"""linkedref.fast — everything that exists only for speed. A reader may skip this package.

The method modules compute each formula plainly; where the plain form would be too slow for the
tutorials, they call one kernel of this package by a name that says what it computes. Each kernel
equals a plain function of the method modules, and a test holds the two equal (float64 to 1e-10;
float32 to rounding):

=====================================  ==========================================  ============
kernel                                 equals                                      test
=====================================  ==========================================  ============
``correlate(xpad, W, stride)``         ``conv.conv2d_reference`` (no bias)         test_conv
``weight_grad(xpad, dy, k, stride)``   dW of ``conv.conv2d_reference_backward``    test_conv
``input_grad(dy, W, stride, ...)``     dx of ``conv.conv2d_reference_backward``    test_conv
``crelu(x)``                           ``Linked.mirror(ReLU())``'s output          test_linked
``DataParallel(model)``                ``model`` itself, at one thread             test_fast
=====================================  ==========================================  ============

``conv`` holds the im2col/GEMM convolution, the Winograd one its wide 3×3 layers take (the
transforms in ``winograd``) and its per-thread work arrays; ``units`` LK-ReLU's output in one
array; ``threads`` the one setting (``set_threads``) and the pool; ``parallel`` the one way work
is split across threads: the batch, across replicas of the model (``DataParallel``).
"""
from .conv import correlate, input_grad, weight_grad
from .parallel import DataParallel
from .threads import blas_info, get_threads, set_threads, using_threads
from .units import crelu

__all__ = ["correlate", "weight_grad", "input_grad", "crelu", "DataParallel",
           "set_threads", "get_threads", "using_threads", "blas_info"]
