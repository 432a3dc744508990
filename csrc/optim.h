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

/* Adam, as torch.optim.Adam (no weight decay), at step t >= 1:
 *   m += (1 - b1) (g - m);  v = b2 v + (1 - b2) g^2
 *   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps) */
void adam_update_f32(float *params, float *m, float *v, const float *grads, size_t n,
                     float learning_rate, float beta1, float beta2, float eps, long step);
void adam_update_f64(double *params, double *m, double *v, const double *grads, size_t n,
                     double learning_rate, double beta1, double beta2, double eps, long step);

/* RMSprop, as torch.optim.RMSprop (not centered, no momentum):
 *   v = alpha v + (1 - alpha) g^2;  p -= lr * g / (sqrt(v) + eps) */
void rmsprop_update_f32(float *params, float *v, const float *grads, size_t n,
                        float learning_rate, float alpha, float eps);
void rmsprop_update_f64(double *params, double *v, const double *grads, size_t n,
                        double learning_rate, double alpha, double eps);

/* clip_gradients and adagrad_update, with the same result, in one sweep over the buffers:
 * grads ends holding the clipped gradient. */
void clip_and_adagrad_f32(float *params, float *mem, float *grads, size_t n,
                          float learning_rate, float clip);
void clip_and_adagrad_f64(double *params, double *mem, double *grads, size_t n,
                          double learning_rate, double clip);

#endif
