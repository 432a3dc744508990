# The checks every entry point of _core.pyx makes before it takes a pointer:
# arrays, sizes, states, masks and the optimizer's settings, against the spec.
# Included by _core.pyx (one extension module, so these stay cdef and inline).


# Sizes whose products the C computes in size_t stay below this, so that no
# product of them can wrap around (2^62 values is far beyond any memory).
cdef double SIZE_LIMIT = 2.0 ** 62
cdef int FLOAT_TYPES[2]
FLOAT_TYPES[:] = [cnp.NPY_FLOAT32, cnp.NPY_FLOAT64]


cdef inline void *data(cnp.ndarray array) noexcept:
    """The buffer of an array that has passed check_array."""
    return cnp.PyArray_DATA(array)


cdef inline void *data_or_null(object array) noexcept:
    return NULL if array is None else cnp.PyArray_DATA(<cnp.ndarray>array)


cdef cnp.ndarray check_array(object array, str name, int typenum, bint written, int ndim,
                             Py_ssize_t d0, Py_ssize_t d1=0, Py_ssize_t d2=0,
                             Py_ssize_t d3=0):
    """``array`` as an ndarray of this type and shape (d0, ..., up to ndim),
    C-contiguous, aligned, native byte order, and writable if ``written``."""
    if not isinstance(array, cnp.ndarray):
        raise TypeError(f"{name} must be a NumPy array, not {type(array).__name__}")
    cdef cnp.ndarray a = <cnp.ndarray>array
    if cnp.PyArray_TYPE(a) != typenum or not cnp.PyArray_ISNOTSWAPPED(a):
        raise TypeError(f"{name} is {array.dtype}, this call needs "
                        f"{cnp.PyArray_DescrFromType(typenum)}")
    cdef Py_ssize_t expected[4]
    expected[0], expected[1], expected[2], expected[3] = d0, d1, d2, d3
    cdef cnp.npy_intp *dims = cnp.PyArray_DIMS(a)
    cdef int i
    cdef bint same = cnp.PyArray_NDIM(a) == ndim
    for i in range(ndim if same else 0):
        same = same and dims[i] == expected[i]
    if not same:
        raise ValueError(f"{name} has shape {array.shape}, this call needs "
                         f"{tuple(expected[i] for i in range(ndim))}")
    if not (cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_ISALIGNED(a)):
        raise ValueError(f"{name} must be C-contiguous and aligned")
    if written and not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError(f"{name} is read-only, but this call writes it")
    return a


cdef cnp.ndarray check_workspace(object workspace, const model_spec *s, int T, int B,
                                 bint with_grads, bint masked):
    """Flat, of the spec's dtype, writable, and holding at least the values the call uses."""
    cdef size_t needed = charrnn_workspace_size(s, T, B, with_grads, masked)
    if not isinstance(workspace, cnp.ndarray) or cnp.PyArray_NDIM(workspace) != 1:
        raise ValueError("workspace must be a flat NumPy array")
    cdef Py_ssize_t size = cnp.PyArray_DIMS(workspace)[0]
    if <size_t>size < needed:
        raise ValueError(f"workspace holds {size} values, this call needs {needed}")
    return check_array(workspace, "workspace", FLOAT_TYPES[s.dtype], True, 1, size)


cdef int check_indices(cnp.ndarray indices, str name, int V) except -1:
    """Every index in [0, V): a character index selects a row of the weights."""
    cdef Py_ssize_t i, n = cnp.PyArray_SIZE(indices)
    cdef const int32_t *flat = <const int32_t *>cnp.PyArray_DATA(indices)
    for i in range(n):
        if flat[i] < 0 or flat[i] >= V:
            raise ValueError(f"{name} holds index {flat[i]}, outside the vocabulary [0, {V})")
    return 0


cdef int check_sizes(const model_spec *s, Py_ssize_t T, Py_ssize_t B) except -1:
    """T and B >= 1, and every C int the call computes from them fits."""
    if T < 1 or B < 1:
        raise ValueError(f"inputs must be a non-empty (T, B) array, got ({T}, {B})")
    cdef double widest = max(<double>cell_gates(s.cell) * s.H, <double>s.V)
    # The matrix products take T * B rows of at most max(G H, V) columns as C ints.
    if <double>T * B * widest > C_INT32_MAX:
        raise ValueError("seq_length * batch_size is too large for one call")
    # The workspace is about 22 blocks of L (T + 1) B H values at most
    # (stack_buffers_carve) plus T B V: 64 such blocks must fit in size_t.
    if <double>s.L * (T + 1) * B * s.H * 64 > SIZE_LIMIT:
        raise ValueError("the sizes are too large for one call")
    return 0


cdef Py_ssize_t overlap(tuple written, tuple others) except -2:
    """The position (in written + others) of the first buffer that overlaps a
    written one, times 16, plus that written one's; -1 if none. Buffers only
    read may overlap (inputs and targets are often views of one text). Each
    is None or a C-contiguous array, so its byte range tells exactly."""
    cdef Py_ssize_t i, j, nw = len(written), n = nw + len(others)
    cdef char *start[16]
    cdef char *end[16]
    cdef object item
    cdef cnp.ndarray array
    if n > 16:
        raise ValueError("at most 16 buffers")
    for i in range(n):
        item = written[i] if i < nw else others[i - nw]
        if item is None:
            start[i] = end[i] = NULL
            continue
        if not isinstance(item, cnp.ndarray):
            raise TypeError(f"buffers must be NumPy arrays or None, not {type(item).__name__}")
        array = <cnp.ndarray>item
        if not cnp.PyArray_IS_C_CONTIGUOUS(array):
            raise ValueError("buffers must be C-contiguous")
        start[i] = <char *>cnp.PyArray_DATA(array)
        end[i] = start[i] + cnp.PyArray_NBYTES(array)
    for i in range(nw):
        for j in range(i + 1, n):
            if start[i] < end[j] and start[j] < end[i]:
                return 16 * j + i
    return -1


def first_overlap(tuple written, tuple others):
    """(i, j): written[i] overlaps (written + others)[j], j > i; or None.

    Each buffer a kernel writes must have its memory to itself: the C reads
    and writes its buffers at the same time, so an overlap gives NaN or zeros.
    Each buffer is a C-contiguous NumPy array or None."""
    cdef Py_ssize_t found = overlap(written, others)
    return None if found < 0 else (found % 16, found // 16)


cdef int check_disjoint(tuple written, tuple others, tuple names) except -1:
    """No written buffer overlaps another buffer of the call (first_overlap);
    ``names`` holds written's names, then others'."""
    cdef Py_ssize_t found = overlap(written, others)
    if found >= 0:
        raise ValueError(f"{names[found % 16]} and {names[found // 16]} share memory: a "
                         "buffer this call writes must not overlap another (pass a copy)")
    return 0


cdef model_spec unpack_spec(object core) except *:
    """ModelSpec.core, (cell, dtype, V, H, L), as csrc/spec.h's struct, checked:
    a known cell and dtype, sizes >= 1 whose parameter count fits size_t."""
    cdef model_spec spec
    if not isinstance(core, tuple) or len(<tuple>core) != 5 or not all(
            isinstance(size, int) for size in <tuple>core):
        raise TypeError(f"spec must be ModelSpec.core, a (cell, dtype, V, H, L) tuple of "
                        f"ints, not {core!r}")
    try:
        spec.cell, spec.dtype, spec.V, spec.H, spec.L = core
    except OverflowError:
        raise ValueError(f"the spec {core} has a size beyond a C int") from None
    if not (CELL_RNN <= spec.cell <= CELL_LSTM and DTYPE_F32 <= spec.dtype <= DTYPE_F64
            and spec.V >= 1 and spec.H >= 1 and spec.L >= 1):
        raise ValueError(f"the spec {core} is not (cell {CELL_RNN}-{CELL_LSTM}, dtype "
                         f"{DTYPE_F32}-{DTYPE_F64}, V, H, L >= 1)")
    cdef double G = cell_gates(spec.cell), H = spec.H
    if G * H > C_INT32_MAX or (G * H * (spec.V + H + 2) * spec.L + (H + 1) * spec.V
                             > SIZE_LIMIT):
        raise ValueError(f"the spec {core} is too large")
    return spec


cdef inline Py_ssize_t num_params(const model_spec *s) noexcept:
    return gated_num_params(cell_gates(s.cell), s.V, s.H, s.L)


cdef optim_config unpack_config(tuple config) except *:
    """Optimizer.core_config(...), as csrc/optim.h's struct."""
    cdef optim_config c
    (c.kind, c.learning_rate, c.beta1, c.beta2, c.alpha, c.eps, c.step, c.clip,
     c.max_norm) = config
    if not OPTIM_ADAGRAD <= c.kind <= OPTIM_RMSPROP:
        raise ValueError(f"the optimizer kind {c.kind} is not {OPTIM_ADAGRAD}-{OPTIM_RMSPROP} "
                         "(csrc/optim.h)")
    return c


cdef int check_state_b(const optim_config *c, object state_b) except -1:
    # Adam keeps two buffers (m, v); the others one, and ignore state_b.
    if c.kind == OPTIM_ADAM and state_b is None:
        raise ValueError("Adam needs state_b (v)")
    return 0


def workspace_size(tuple spec, int seq_length, int batch_size, bint with_grads, bint masked):
    """Values of the workspace a call with these sizes uses (stack_workspace_size)."""
    cdef model_spec s = unpack_spec(spec)
    check_sizes(&s, seq_length, batch_size)
    return charrnn_workspace_size(&s, seq_length, batch_size, with_grads, masked)


def first_out_of_range(const int32_t[:, ::1] indices, int32_t vocab_size):
    """The flat position of the first index outside [0, vocab_size), or -1."""
    cdef Py_ssize_t i, n = indices.shape[0] * indices.shape[1]
    cdef const int32_t *flat = &indices[0, 0]
    for i in range(n):
        if flat[i] < 0 or flat[i] >= vocab_size:
            return i
    return -1


# inputs and targets are (T, B) int32; states (S, L, B, H); mask (L - 1, T, B, H)
# or None; the workspace holds workspace_size values. grads None: forward only.

cdef int check_sequences(const model_spec *s, object inputs, object targets) except -1:
    """inputs and targets: the same (T, B) int32 shape, indices in [0, V), sizes that fit."""
    if not isinstance(inputs, cnp.ndarray) or cnp.PyArray_NDIM(inputs) != 2:
        raise ValueError("inputs must be a (T, B) NumPy array")
    cdef cnp.npy_intp *dims = cnp.PyArray_DIMS(inputs)
    cdef Py_ssize_t T = dims[0], B = dims[1]
    check_sizes(s, T, B)
    check_indices(check_array(inputs, "inputs", cnp.NPY_INT32, False, 2, T, B), "inputs", s.V)
    check_indices(check_array(targets, "targets", cnp.NPY_INT32, False, 2, T, B), "targets",
                  s.V)
    return 0


cdef int check_states(const model_spec *s, object state, str name, bint written,
                      Py_ssize_t B) except -1:
    """(L, B, H), or (2, L, B, H) for the LSTM."""
    if s.cell == CELL_LSTM:
        check_array(state, name, FLOAT_TYPES[s.dtype], written, 4, 2, s.L, B, s.H)
    else:
        check_array(state, name, FLOAT_TYPES[s.dtype], written, 3, s.L, B, s.H)
    return 0


cdef int check_mask(const model_spec *s, object mask, int T, int B) except -1:
    if mask is not None:
        check_array(mask, "mask", FLOAT_TYPES[s.dtype], False, 1,
                    <Py_ssize_t>(s.L - 1) * T * B * s.H)
    return 0
