/* Asking the dynamic loader which library a BLAS function pointer lives in,
 * and whether that library (or one it links) is OpenBLAS. */
#define _GNU_SOURCE             /* dladdr */
#include <stddef.h>
#include <stdio.h>

#include "blas_probe.h"

#if defined(_WIN32)

void *blas_openblas_function(const void *blas_function, const char *name)
{
    (void)blas_function, (void)name;
    return NULL;
}

#else

#include <dlfcn.h>

/* How OpenBLAS builds export openblas_<name>: plain, with 64-bit integers,
 * and as scipy's wheels prefix them. */
static const char *const name_formats[] = {
    "scipy_openblas_%s", "openblas_%s", "scipy_openblas_%s64_", "openblas_%s64_",
};

void *blas_openblas_function(const void *blas_function, const char *name)
{
    Dl_info info;
    if (!dladdr((void *)blas_function, &info) || !info.dli_fname) return NULL;
    /* RTLD_NOLOAD: only look at the library already mapped, never load one;
     * dlsym on its handle searches it and the libraries it links. */
    void *library = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (!library) return NULL;
    void *function = NULL;
    char symbol[128];
    for (size_t i = 0; i < sizeof name_formats / sizeof *name_formats && !function; i++) {
        snprintf(symbol, sizeof symbol, name_formats[i], name);
        function = dlsym(library, symbol);
    }
    /* Drops the reference NOLOAD took; the library stays mapped, since the
     * process loaded it for the BLAS, so the address stays good. */
    dlclose(library);
    return function;
}

#endif
