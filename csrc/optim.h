/* Elementwise operations over the flat gradient and parameter buffers. */
#ifndef CHARRNN_OPTIM_H
#define CHARRNN_OPTIM_H

#include <stddef.h>

/* g = min(max(g, -clip), clip) */
void clip_gradients_f32(float *grads, size_t n, float clip);
void clip_gradients_f64(double *grads, size_t n, double clip);

/* mem += g * g;  p -= lr * g / sqrt(mem + 1e-8) */
void adagrad_update_f32(float *params, float *mem, const float *grads, size_t n,
                        float learning_rate);
void adagrad_update_f64(double *params, double *mem, const double *grads,
                        size_t n, double learning_rate);

/* Both of the above, with the same result, in one sweep over the buffers:
 * grads ends holding the clipped gradient. */
void clip_and_adagrad_f32(float *params, float *mem, float *grads, size_t n,
                          float learning_rate, float clip);
void clip_and_adagrad_f64(double *params, double *mem, double *grads, size_t n,
                          double learning_rate, double clip);

#endif
