/* What the BLAS library behind the table is, found from one of its function
 * pointers: so it is the library actually called, whatever else is loaded. */
#ifndef CHARRNN_BLAS_PROBE_H
#define CHARRNN_BLAS_PROBE_H

/* The address of OpenBLAS's openblas_<name> (say "get_corename") in the
 * library that holds blas_function or in one it links, under any name
 * OpenBLAS builds export it as (scipy's are prefixed "scipy_"); NULL when
 * that library is not OpenBLAS, or on Windows, where the probe is not
 * built. blas_function may be a wrapper, as scipy's cython_blas routines
 * are: their library links the BLAS. */
void *blas_openblas_function(const void *blas_function, const char *name);

#endif
