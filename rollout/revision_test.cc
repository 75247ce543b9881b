#include "rollout/revision.h"
#include <gtest/gtest.h>
