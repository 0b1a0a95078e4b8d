/* Writes the synthetic TFLite seeds of the fuzz corpus (each < 4 KiB) into
 * the folder given as argument, so the repository carries no binary seeds. */
#include <stdio.h>
#include <stdlib.h>

#include "tests/unit/kernels/tflite/tiny_tflite.h"

static int put(const char *dir, const char *name, uint8_t *buf, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	int ok = f && fwrite(buf, 1, len, f) == len;
	if (f && fclose(f) != 0)
		ok = 0;
	free(buf);
	if (!ok)
		fprintf(stderr, "cannot write %s\n", path);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	uint8_t *b;
	size_t n;
	int fails = 0;
	n = tt_build_conv(false, &b);
	fails += put(argv[1], "conv_f32.tflite", b, n);
	n = tt_build_conv(true, &b);
	fails += put(argv[1], "conv_fp16.tflite", b, n);
	n = tt_build_zoo(&b);
	fails += put(argv[1], "zoo.tflite", b, n);
	n = tt_build_quant(true, &b);
	fails += put(argv[1], "quant_int8.tflite", b, n);
	n = tt_build_quant(false, &b);
	fails += put(argv[1], "quant_uint8.tflite", b, n);
	return fails ? 1 : 0;
}
