#include "rollout/rollout.h"
#include <gtest/gtest.h>
