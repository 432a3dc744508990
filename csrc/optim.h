/* The optimizer step: clipping and the update, elementwise over the flat
 * gradient, parameter and state buffers (all laid out alike). */
#ifndef CHARRNN_OPTIM_H
#define CHARRNN_OPTIM_H

#include <stddef.h>

/* The optimizers' numbers; the Python side reads them from here (_core.pxd). */
enum { OPTIM_ADAGRAD = 0, OPTIM_ADAM = 1, OPTIM_RMSPROP = 2 };

/* The step's two fixed constants, read by the NumPy reference and the torch
 * step through _core: Adagrad's eps, inside the square root as in the
 * write-up, and the norm clip's, as torch.nn.utils.clip_grad_norm_'s.
 * Adam's and RMSprop's eps are hyperparameters (optim_config.eps). */
#define OPTIM_ADAGRAD_EPS 1e-8
#define OPTIM_NORM_EPS 1e-6

/* One step's settings. State buffers per optimizer: Adagrad mem; Adam m, v;
 * RMSprop v (state_a first, then state_b). */
typedef struct {
    int kind;              /* OPTIM_ADAGRAD, OPTIM_ADAM or OPTIM_RMSPROP */
    double learning_rate;
    double beta1, beta2;   /* Adam */
    double alpha;          /* RMSprop's decay */
    double eps;            /* Adam and RMSprop; Adagrad's is OPTIM_ADAGRAD_EPS */
    long step;             /* Adam: the step being taken, from 1 */
    double clip;           /* elementwise: g = min(max(g, -clip), clip) */
    double max_norm;       /* global norm: g *= max_norm / (|g| + OPTIM_NORM_EPS)
                              when |g| > max_norm; 0 turns it off */
} optim_config;

/* The whole step, in this order: scale to max_norm, clip to [-clip, clip],
 * update params and state. grads ends holding the gradient as applied. */
void optimizer_step_f32(const optim_config *config, float *params, float *grads,
                        float *state_a, float *state_b, size_t n);
void optimizer_step_f64(const optim_config *config, double *params, double *grads,
                        double *state_a, double *state_b, size_t n);

/* The parts, for the C tests. */

/* sqrt(sum g^2), summed in double */
double gradient_norm_f32(const float *grads, size_t n);
double gradient_norm_f64(const double *grads, size_t n);

/* g = min(max(g, -clip), clip) */
void clip_gradients_f32(float *grads, size_t n, float clip);
void clip_gradients_f64(double *grads, size_t n, double clip);

/* mem += g * g;  p -= lr * g / sqrt(mem + OPTIM_ADAGRAD_EPS) */
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

#endif
