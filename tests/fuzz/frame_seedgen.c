/* Writes seed inputs for fuzz_frame into the folder given: small JPEGs
 * (baseline, progressive, grey, restart markers), a BMP, a PPM, raw frames and
 * a two-frame MJPEG stream, each behind fuzz_frame's 8-byte header. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

static const char *dir;

static void seed(const char *name, uint8_t mode, int w, int h, uint8_t spec, const void *p, size_t n)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f) {
		perror(path);
		exit(1);
	}
	uint8_t hdr[8] = {
	    mode, (uint8_t)(w - 1), (uint8_t)((w - 1) >> 8), (uint8_t)(h - 1), (uint8_t)((h - 1) >> 8), spec};
	fwrite(hdr, 1, 8, f);
	fwrite(p, 1, n, f);
	fclose(f);
}

static unsigned char *jpeg(int w, int h, int ss, int flags, unsigned long *len)
{
	unsigned char *rgb = malloc((size_t)w * h * 3), *out = NULL;
	for (int i = 0; i < w * h * 3; i++)
		rgb[i] = (unsigned char)(i * 7 + (i / (w * 3)) * 13);
	tjhandle t = tjInitCompress();
	*len = 0;
	if (tjCompress2(t, rgb, w, 0, h, TJPF_RGB, &out, len, ss, 75, flags) < 0)
		exit(1);
	tjDestroy(t);
	free(rgb);
	return out;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	dir = argv[1];
	unsigned long l;
	unsigned char *j = jpeg(48, 32, TJSAMP_422, 0, &l);
	seed("mjpeg-422", 0, 48, 32, 0x03, j, l);
	seed("image-jpeg", 1, 48, 32, 0x46, j, l);
	unsigned char *stream = malloc(2 * l + 3);
	memcpy(stream, j, l);
	memcpy(stream + l, "xyz", 3);
	memcpy(stream + l + 3, j, l);
	seed("mjpeg-stream", 7, 48, 32, 0x12, stream, 2 * l + 3);
	free(stream);
	tjFree(j);
	j = jpeg(33, 17, TJSAMP_420, TJFLAG_PROGRESSIVE, &l);
	seed("mjpeg-progressive", 0, 33, 17, 0x2a, j, l);
	tjFree(j);
	j = jpeg(16, 16, TJSAMP_GRAY, 0, &l);
	seed("load-grey-jpeg", 6, 16, 16, 0x01, j, l);
	tjFree(j);

	static const uint8_t bmp[] =
	    "BM\x46\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0\x02\0\0\0\x02\0\0\0\x01\0\x18\0\0\0\0\0"
	    "\x10\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
	    "\xff\0\0\0\xff\0\0\0\0\0\xff\xff\xff\xff\0\0";
	seed("load-bmp", 6, 2, 2, 0x05, bmp, sizeof(bmp) - 1);
	static const char ppm[] = "P6\n# c\n2 2\n255\n\xff\0\0\0\xff\0\0\0\xff\xff\xff\xff";
	seed("image-ppm", 1, 2, 2, 0x0b, ppm, sizeof(ppm) - 1);
	uint8_t raw[8 * 6 * 3];
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)(i * 37);
	seed("yuyv", 2, 8, 6, 0x01, raw, 8 * 6 * 2);
	seed("nv12", 3, 8, 6, 0x22, raw, 8 * 6 * 3 / 2);
	seed("rgb24", 4, 8, 6, 0x4e, raw, sizeof(raw));
	seed("grey", 5, 8, 6, 0x9d, raw, 8 * 6);
	return 0;
}
