/* TFLite flatbuffer writer: serialises an sl_model as a standard .tflite file
 * (schema version 3, one subgraph) that any TFLite runtime can load. Used by
 * the compressor to store ladder variants; zeros of pruned weights are stored
 * densely, so the file needs nothing beyond the base schema.
 *
 * Tensor and node indices are preserved, so writing and re-importing a model
 * yields the same graph. Constant operands that the IR keeps only as node
 * parameters (MEAN axes, PAD paddings) are added as new constant tensors when
 * the node has no such input. */
#pragma once

#include <stddef.h>

#include "kernels/model.h"

/* On success *ret_buf is a malloc'd buffer of *ret_size bytes (16-byte aligned). */
int sl_tflite_write_mem(const sl_model *m, void **ret_buf, size_t *ret_size, sl_error *err);
int sl_tflite_write_file(const sl_model *m, const char *path, sl_error *err);
