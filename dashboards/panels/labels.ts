/** Label names of the exporter's HTTP metrics that the panels group and filter by. */
export { HTTP_LABELS } from '../../exporter/metric-names';
