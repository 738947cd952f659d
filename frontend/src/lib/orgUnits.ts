// Organisation units as a tree (GET /api/org-units lists them in tree order).
import { computed, ref } from 'vue'
import { api, type OrgUnit, type OrgUnitKind } from './api'

export interface OrgNode extends OrgUnit {
  children: OrgNode[]
}

/** Which kinds may sit under which (mirrors hotline.domains.identity.model.ALLOWED_CHILDREN). */
export const ALLOWED_CHILDREN: Record<OrgUnitKind, OrgUnitKind[]> = {
  group: ['branch', 'department', 'dispatch_center'],
  branch: ['dispatch_center', 'department', 'team'],
  dispatch_center: ['team', 'department'],
  department: ['team', 'department'],
  team: [],
}

export function buildTree(units: OrgUnit[]): OrgNode[] {
  const nodes = new Map<string, OrgNode>()
  for (const u of units) nodes.set(u.id, { ...u, children: [] })
  const roots: OrgNode[] = []
  for (const node of nodes.values()) {
    const parent = node.parent_id ? nodes.get(node.parent_id) : undefined
    if (parent) parent.children.push(node)
    else roots.push(node) // a root, or the top of the caller's scope
  }
  return roots
}

export function useOrgUnits() {
  const units = ref<OrgUnit[]>([])
  const loading = ref(false)
  const byId = computed(() => new Map(units.value.map((u) => [u.id, u])))
  const tree = computed(() => buildTree(units.value))

  async function load(): Promise<void> {
    loading.value = true
    try {
      units.value = await api.get<OrgUnit[]>('/api/org-units')
    } finally {
      loading.value = false
    }
  }

  function name(id: string | null | undefined): string {
    if (!id) return ''
    return byId.value.get(id)?.name ?? id
  }

  return { units, loading, byId, tree, load, name }
}
