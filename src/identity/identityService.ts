import type { DriverConfig } from "../config/DriverConfig.js"
import { serve } from "../csi/servedServices.js"
import { IdentityService } from "../gen/csi.js"
import type { Readiness } from "../health/Readiness.js"
import { identityPrograms } from "./programs.js"

export const identityService = serve<typeof IdentityService, DriverConfig | Readiness>(IdentityService, identityPrograms)
