#ifndef THUMBS_IMAGE_H
#define THUMBS_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct image {
    uint32_t width;
    uint32_t height;
    uint32_t channels;
    uint8_t *pixels;
};

struct image *image_alloc(uint32_t width, uint32_t height, uint32_t channels);
void image_free(struct image *img);
struct image *image_read_raw(FILE *in);

#endif
