/* See criterion.h next to this file. */
#pragma once

#include <criterion/criterion.h>
