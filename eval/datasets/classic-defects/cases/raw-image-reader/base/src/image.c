#include <stdlib.h>
#include <string.h>

#include "image.h"

#define MAX_CHANNELS 4

void image_free(struct image *img)
{
    if (!img)
        return;
    free(img->pixels);
    free(img);
}
