# U-Boot boot script for the A/B gateway (mkimage -T script -d boot.cmd boot.scr).
# otuf_slot: the slot to boot (ab-switch.sh sets it). upgrade_available=1 marks a trial boot:
# U-Boot then increments bootcount, and after bootlimit boots that never reached confirmation
# (ab-confirm.sh) altbootcmd boots the other slot.
setenv bootlimit 3
test -n "${otuf_slot}" || setenv otuf_slot a
if test "${otuf_slot}" = "b"; then setenv rootpart 3; else setenv rootpart 2; fi
setenv altbootcmd 'if test "${otuf_slot}" = "b"; then setenv otuf_slot a; else setenv otuf_slot b; fi; setenv upgrade_available 0; saveenv; run bootcmd'
setenv bootargs "root=/dev/mmcblk0p${rootpart} rootwait ro otuf.slot=${otuf_slot}"
load mmc 0:${rootpart} ${kernel_addr_r} /boot/Image
load mmc 0:${rootpart} ${fdt_addr_r} /boot/gateway.dtb
booti ${kernel_addr_r} - ${fdt_addr_r}
