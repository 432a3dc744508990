/* Instantiate a template header for float32: include this, then the template,
 * then real_undef.h. */
#define real float
#define FN(name) name##_f32
#define GEMM charrnn_blas.sgemm
#define GEMV charrnn_blas.sgemv
#define LOG logf
#define SQRT sqrtf
