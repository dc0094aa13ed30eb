/** Baton's own version, and the Prefect API version whose contract it speaks. */
export const BATON_VERSION = "0.1.0";
export const PREFECT_API_VERSION = "0.8.4";
/** The Prefect server version reported by `/api/version`: the Python client checks it. */
export const PREFECT_SERVER_VERSION = "3.4.0";
