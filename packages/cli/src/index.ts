export { buildCli, main, type CliIO, type GlobalOptions } from './cli.js';
export { collectDoctorReport, formatDoctorReport, type DoctorReport } from './doctor/report.js';
export { parseLdconfig, probeGpu, GPU_LIBRARIES, type GpuProbe } from './doctor/gpu-libraries.js';
