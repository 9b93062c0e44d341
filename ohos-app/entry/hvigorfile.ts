// Module-level hvigor script: the OpenHarmony SDK's built-in HAP tasks.
import { hapTasks } from '@ohos/hvigor-ohos-plugin';

export default {
  system: hapTasks,
  plugins: []
}
