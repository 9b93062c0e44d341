// Project-level hvigor script: the OpenHarmony SDK's built-in app tasks.
import { appTasks } from '@ohos/hvigor-ohos-plugin';

export default {
  system: appTasks,
  plugins: []
}
