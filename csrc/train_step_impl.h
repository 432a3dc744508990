/* Template: one training step (train_step.h). */

void FN(train_step)(const model_spec *spec, const optim_config *config, real *params,
                    real *grads, real *state_a, real *state_b, real *state_last,
                    double *loss, const int32_t *inputs, const int32_t *targets,
                    const real *state0, const real *dropout_mask, real *workspace,
                    int T, int B)
{
    const size_t P = gated_num_params(cell_gates(spec->cell), spec->V, spec->H, spec->L);
    memset(grads, 0, P * sizeof(real));
    FN(stack_forward_backward)(spec->cell, grads, state_last, loss, params, inputs, targets,
                               state0, dropout_mask, workspace, spec->V, spec->H, spec->L,
                               T, B);
    if (isfinite(*loss))
        FN(optimizer_step)(config, params, grads, state_a, state_b, P);
}
